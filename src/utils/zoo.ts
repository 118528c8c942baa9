/**
 * The simulator's bug zoo (issue 28, docs/simulation.md): the one global a test-only defect
 * switch reads. Each switch is written `typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('…')`
 * where its fix lives: tsup defines `__ROTOR_ZOO__` as `undefined`, so every switch folds to
 * `false` and its branch is dropped from the published build (zero bytes, no option); in the
 * sources nothing sets it, and only the simulator (test/sim/zoo.ts) fills it, per schedule.
 */
declare global {
  // A `var`: the simulator assigns it on globalThis.
  var __ROTOR_ZOO__: ReadonlySet<string> | undefined
}

export {}
