/** The devtools panel's stylesheet, scoped under `.rotor-devtools`. */
export const PANEL_CSS = `
.rotor-devtools { font: 12px/1.4 ui-monospace, monospace; border: 1px solid #8884; border-radius: 6px; padding: 8px; }
.rotor-devtools header { display: flex; gap: 8px; align-items: baseline; justify-content: space-between; margin: 0 0 6px; }
.rotor-devtools-summary { margin: 0; font-weight: 600; }
.rotor-devtools-export { font: inherit; }
.rotor-devtools-lanes { display: flex; gap: 8px; flex-wrap: wrap; }
.rotor-devtools-lane { flex: 1 1 260px; min-width: 0; }
.rotor-devtools-lane h3 { font-size: 12px; margin: 0 0 4px; }
.rotor-devtools-lane[data-self] h3 { color: #2563eb; }
.rotor-devtools-waiting { color: #b45309; font-weight: normal; }
.rotor-devtools-lane ol { list-style: none; margin: 0; padding: 0; }
.rotor-devtools-lane li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.rotor-devtools-lane li[data-kind^="rotation"] { color: #15803d; }
.rotor-devtools-lane li[data-kind="request-replayed"], .rotor-devtools-lane li[data-kind="budget-reached"], .rotor-devtools-lane li[data-kind="lease-lost"] { color: #b45309; }
.rotor-devtools-lane li[data-kind="logout"], .rotor-devtools-lane li[data-kind="event:logout"], .rotor-devtools-lane li[data-kind="event:rotate-error"] { color: #b91c1c; }
.rotor-devtools-lane li[data-kind="event:rotate"] { color: #15803d; }
`
