/** The React example: a Stripes-style app on rotor-auth/react and rotor-auth/folio (login form, a list, the idle modal, the session-ending banner). */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { createRoot } from 'react-dom/client'
import { createSession, type LogoutReason } from '../../src/index.js'
import { fromStripesConfig, loginToFolio, type StripesRtrConfig } from '../../src/folio/index.js'
import { mountDevtools } from '../../src/devtools/index.js'
import { SessionProvider, useIdleWarning, useSession, useSessionEnding, useSessionFetch } from '../../src/react/index.js'

type DemoConfig = { tenant: string; rtr: StripesRtrConfig }

const config = JSON.parse(document.getElementById('stripes-config')!.textContent!) as DemoConfig
const okapiUrl = location.origin
// The app's own Stripes settings, as they are. Request mode: the reference server gives every
// rotation a fresh RT lifetime, so only a session that does not rotate on a timer reaches the
// end of its RT (a FOLIO fixed-length session does, in timer mode too).
const session = createSession({ ...fromStripesConfig({ okapi: { url: okapiUrl, tenant: config.tenant }, config: { rtr: config.rtr } }), rotation: 'request' })

const REASONS: Record<LogoutReason, string> = {
  expired: 'Your session ended: its time was up.',
  idle: 'You were signed out after a period of inactivity.',
  rejected: 'The server ended your session.',
  user: 'You signed out.',
}

const clock = (seconds: number | null) => {
  const s = seconds ?? 0
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function Login({ ended }: { ended: LogoutReason | null }) {
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const form = new FormData(event.currentTarget)
    setBusy(true)
    setError('')
    try {
      await loginToFolio(session, { okapiUrl, tenant: config.tenant, username: String(form.get('username')), password: String(form.get('password')) })
    } catch (failure) {
      setError(String((failure as Error).message ?? failure))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="card" id="login-form" onSubmit={event => void submit(event)}>
      <h2>Sign in</h2>
      {ended && (
        <p className="notice" id="ended" data-reason={ended}>
          {REASONS[ended]}
        </p>
      )}
      <label>
        Username <input name="username" defaultValue="diku_admin" autoComplete="username" />
      </label>
      <label>
        Password <input name="password" type="password" defaultValue="admin" autoComplete="current-password" />
      </label>
      <button type="submit" disabled={busy}>
        Sign in
      </button>
      {error && <p className="error">{error}</p>}
    </form>
  )
}

type Echo = Record<string, unknown>

function Items() {
  const fetch = useSessionFetch()
  const [items, setItems] = useState<Array<[string, string]> | null>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    let live = true
    fetch(`${okapiUrl}/api/items?limit=5`)
      .then(async response => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`)
        const body = (await response.json()) as Echo
        if (live) setItems(Object.entries(body).map(([key, value]) => [key, JSON.stringify(value)]))
      })
      .catch((failure: unknown) => live && setError(String(failure)))
    return () => {
      live = false
    }
  }, [fetch])
  return (
    <section className="card" aria-label="Items">
      <h2>Loaded through the session</h2>
      {error && <p className="error">{error}</p>}
      {items === null && !error && <p className="muted">Loading…</p>}
      {items && (
        <ul className="items" id="items">
          {items.map(([key, value]) => (
            <li key={key}>
              {key}: <code>{value}</code>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

function IdleModal() {
  const { show, secondsLeft, keepWorking } = useIdleWarning()
  if (!show) return null
  return (
    <div className="backdrop">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="idle-title">
        <h2 id="idle-title">Keep working?</h2>
        <p>
          No activity in any tab. You will be signed out in{' '}
          <span className="countdown" id="idle-left">
            {clock(secondsLeft)}
          </span>
          .
        </p>
        <button type="button" onClick={keepWorking}>
          Keep working
        </button>
      </div>
    </div>
  )
}

function EndingBanner() {
  const { show, secondsLeft, keepWorking } = useSessionEnding()
  if (!show) return null
  return (
    <div className="banner" role="alert" id="ending-banner">
      <span>
        Your session will end in{' '}
        <span className="countdown" id="ending-left">
          {clock(secondsLeft)}
        </span>
        . Save your work.
      </span>
      <button type="button" className="secondary" onClick={() => void keepWorking().catch(() => undefined)}>
        Extend session
      </button>
    </div>
  )
}

/** The devtools panel (rotor-auth/devtools), mounted while shown: a button toggles it. */
function Devtools() {
  const [shown, setShown] = useState(false)
  const host = useRef<HTMLDivElement>(null)
  useEffect(() => (shown && host.current ? mountDevtools(session, host.current) : undefined), [shown])
  return (
    <section className="devtools">
      <button type="button" className="secondary" id="devtools-toggle" onClick={() => setShown(s => !s)}>
        {shown ? 'Hide devtools' : 'Show devtools'}
      </button>
      <div ref={host} />
    </section>
  )
}

function App() {
  const { state } = useSession()
  const [ended, setEnded] = useState<LogoutReason | null>(null)
  useEffect(() => session.on('logout', ({ reason }) => setEnded(reason)), [])
  useEffect(() => {
    if (state.status === 'active') setEnded(null)
  }, [state.status])
  return (
    <>
      <header>
        <h1>
          Rotor <span className="muted">React · Stripes settings</span>
        </h1>
        <span className="pill" id="status" data-status={state.status}>
          {state.status}
        </span>
        {state.status === 'active' && (
          <button type="button" className="secondary" onClick={() => void session.logout()}>
            Log out
          </button>
        )}
      </header>
      <EndingBanner />
      {state.status === 'active' ? <Items /> : <Login ended={ended} />}
      <IdleModal />
      <Devtools />
    </>
  )
}

createRoot(document.getElementById('root')!).render(
  <SessionProvider session={session}>
    <App />
  </SessionProvider>,
)
