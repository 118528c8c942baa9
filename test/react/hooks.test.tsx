// @vitest-environment happy-dom
/**
 * rotor-auth/react against real sessions on the reference server: two tabs are two sessions
 * sharing a `crossTab` name, each rendered in its own root (React Testing Library, happy-dom).
 * Real timers with short lifetimes; every wait is for a state, never a speed assertion.
 */
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { Profiler, useState, type ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import { afterEach, describe, expect, test } from 'vitest'
import type { Session } from '../../src/index.js'
import { SessionProvider, useIdleWarning, useSession, useSessionEnding, useSessionFetch } from '../../src/react/index.js'
import type { SessionOptions } from '../../src/types.js'
import { browserTabs, startEnv, type Env } from '../helpers/index.js'

let env: Env
afterEach(async () => {
  cleanup()
  await env?.close()
})

function Status() {
  const { state } = useSession()
  return (
    <p>
      <span data-testid="status">{state.status}</span> <span data-testid="generation">{state.generation}</span>
    </p>
  )
}

function IdleModal() {
  const { show, secondsLeft, keepWorking } = useIdleWarning()
  if (!show) return null
  return (
    <div role="dialog" aria-label="Keep working?">
      Logging out in <span data-testid="idle-seconds">{secondsLeft}</span> s<button onClick={keepWorking}>Keep working</button>
    </div>
  )
}

function EndingBanner() {
  const { show, secondsLeft, endsAt, keepWorking } = useSessionEnding()
  if (!show) return null
  return (
    <div role="alert" data-ends-at={endsAt}>
      Session ends in <span data-testid="ending-seconds">{secondsLeft}</span> s<button onClick={() => void keepWorking()}>Extend</button>
    </div>
  )
}

function renderTab(session: Session, children: ReactNode = null) {
  const { container } = render(
    <SessionProvider session={session}>
      <Status />
      <IdleModal />
      <EndingBanner />
      {children}
    </SessionProvider>,
  )
  return within(container)
}

async function twoTabs(serverOptions: Parameters<typeof startEnv>[0], options: Partial<SessionOptions>) {
  env = await startEnv(serverOptions)
  const browser = browserTabs(env, options)
  const first = browser.open()
  await browser.start(first)
  const second = browser.open()
  await waitFor(() => expect(second.state.status).toBe('active'))
  return [first, second] as const
}

describe('useSession', () => {
  test('follows the session in every tab: login, rotation, logout', async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const browser = browserTabs(env)
    const [first, second] = [browser.open(), browser.open()]
    const [tab1, tab2] = [renderTab(first), renderTab(second)]
    expect(tab2.getByTestId('status').textContent).toBe('signed-out')
    await act(() => browser.start(first))
    await waitFor(() => expect(tab2.getByTestId('status').textContent).toBe('active'))
    await act(() => second.rotate())
    await waitFor(() => expect(tab1.getByTestId('generation').textContent).toBe(String(second.state.generation)))
    await act(() => first.logout())
    await waitFor(() => expect(tab2.getByTestId('status').textContent).toBe('signed-out'))
    expect(env.server.stats.refreshGranted).toBe(1)
    expect(env.server.stats.logouts).toBe(1)
  })

  test('returns the same object until the state changes', async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const { session } = await env.browser()
    const seen: Array<ReturnType<typeof useSession>> = []
    let rerender!: () => void
    function Probe() {
      const [, setN] = useState(0)
      rerender = () => setN(n => n + 1)
      seen.push(useSession())
      return null
    }
    render(
      <SessionProvider session={session}>
        <Probe />
      </SessionProvider>,
    )
    act(() => rerender())
    expect(seen.length).toBe(2)
    expect(seen[1]).toBe(seen[0])
    await act(() => session.rotate())
    expect(seen.at(-1)).not.toBe(seen[0])
    expect(seen.at(-1)!.state.generation).toBe(seen[0]!.state.generation + 1)
  })

  test('is SSR-safe: on the server it renders signed-out, without touching timers', async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const { session } = await env.browser()
    expect(session.state.status).toBe('active')
    const html = renderToString(
      <SessionProvider session={session}>
        <Status />
        <IdleModal />
      </SessionProvider>,
    )
    expect(html).toContain('signed-out')
    expect(html).not.toContain('dialog')
  })

  test('outside a provider, the hooks say what is missing', () => {
    const quiet = console.error
    console.error = () => undefined
    try {
      expect(() => render(<Status />)).toThrow(/useSession\(\) must be called inside <SessionProvider/)
      expect(() => render(<IdleModal />)).toThrow(/useIdleWarning\(\)/)
    } finally {
      console.error = quiet
    }
  })
})

describe('useIdleWarning', () => {
  test('the modal shows in both tabs; "Keep working" in one dismisses it in both; then both log out', async () => {
    const [first, second] = await twoTabs({ accessTokenTtl: 60_000 }, { idle: { timeout: 4_000, warning: 3_000 } })
    const [tab1, tab2] = [renderTab(first), renderTab(second)]
    expect(tab1.queryByRole('dialog')).toBeNull()
    await waitFor(() => expect(tab1.getByRole('dialog')).toBeTruthy(), { timeout: 3_000 })
    await waitFor(() => expect(tab2.getByRole('dialog')).toBeTruthy())
    expect(Number(tab2.getByTestId('idle-seconds').textContent)).toBeLessThanOrEqual(3)

    fireEvent.click(tab1.getByRole('button', { name: 'Keep working' }))
    await waitFor(() => expect(tab1.queryByRole('dialog')).toBeNull())
    await waitFor(() => expect(tab2.queryByRole('dialog')).toBeNull())

    // Nobody works: it comes back in both, and both tabs log out (the server was told once).
    await waitFor(() => expect(tab2.getByRole('dialog')).toBeTruthy(), { timeout: 3_000 })
    await waitFor(() => expect(tab1.getByTestId('status').textContent).toBe('signed-out'), { timeout: 6_000 })
    await waitFor(() => expect(tab2.getByTestId('status').textContent).toBe('signed-out'))
    expect(tab1.queryByRole('dialog')).toBeNull()
    expect(tab2.queryByRole('dialog')).toBeNull()
    await waitFor(() => expect(env.server.stats.logouts).toBe(1))
  }, 20_000)

  test('an unrelated state change (rotations) does not re-render its consumer', async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const { session } = await env.browser({ idle: { timeout: 600_000, warning: 60_000 }, sessionEnding: { warning: 60_000 } })
    const renders = { idle: 0, status: 0 }
    render(
      <SessionProvider session={session}>
        <Profiler id="status" onRender={() => renders.status++}>
          <Status />
        </Profiler>
        <Profiler id="idle" onRender={() => renders.idle++}>
          <IdleModal />
          <EndingBanner />
        </Profiler>
      </SessionProvider>,
    )
    const before = { ...renders }
    for (let i = 0; i < 3; i++) await act(() => session.rotate())
    expect(screen.getByTestId('generation').textContent).toBe(String(session.state.generation))
    // The state consumer re-rendered for each rotation; the warnings' consumers never did.
    expect(renders.status).toBeGreaterThanOrEqual(before.status + 3)
    expect(renders.idle).toBe(before.idle)
    expect(env.server.stats.refreshGranted).toBe(3)
  })
})

describe("countdowns on the session's clock", () => {
  test("secondsLeft counts to the session's deadline on the session's clock, not the machine's", async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const browser = browserTabs(env, { idle: { timeout: 4_000, warning: 3_000 } })
    // The session's clock is an hour behind the machine's (an injected `now`, a skewed client).
    const tab = browser.open({ now: () => Date.now() - 3_600_000 })
    await browser.start(tab)
    const view = renderTab(tab)
    await waitFor(() => expect(view.getByRole('dialog')).toBeTruthy(), { timeout: 3_000 })
    const seconds = Number(view.getByTestId('idle-seconds').textContent)
    expect(seconds).toBeGreaterThanOrEqual(1)
    expect(seconds).toBeLessThanOrEqual(3)
  }, 20_000)
})

describe('useSessionEnding', () => {
  test('the banner shows in both tabs before the RT expiry; extending in one hides it in both; then both end', async () => {
    // Request mode: nothing rotates on its own, so only "Extend" moves the RT expiry.
    const [first, second] = await twoTabs({ accessTokenTtl: 60_000, refreshTokenTtl: 4_000 }, { rotation: 'request', sessionEnding: { warning: 3_000 } })
    const [tab1, tab2] = [renderTab(first), renderTab(second)]
    const endsAt = String(first.state.refreshExpiresAt)
    await waitFor(() => expect(tab1.getByRole('alert').dataset.endsAt).toBe(endsAt), { timeout: 3_000 })
    await waitFor(() => expect(tab2.getByRole('alert').dataset.endsAt).toBe(endsAt))
    expect(Number(tab1.getByTestId('ending-seconds').textContent)).toBeLessThanOrEqual(3)

    fireEvent.click(tab2.getByRole('button', { name: 'Extend' }))
    await waitFor(() => expect(tab1.queryByRole('alert')).toBeNull())
    await waitFor(() => expect(tab2.queryByRole('alert')).toBeNull())
    expect(env.server.stats.refreshGranted).toBe(1)
    expect(first.state.refreshExpiresAt).toBeGreaterThan(Number(endsAt))

    await waitFor(() => expect(tab1.getByRole('alert')).toBeTruthy(), { timeout: 3_000 })
    await waitFor(() => expect(tab1.getByTestId('status').textContent).toBe('signed-out'), { timeout: 6_000 })
    await waitFor(() => expect(tab2.getByTestId('status').textContent).toBe('signed-out'))
    expect(tab1.queryByRole('alert')).toBeNull()
    expect(tab2.queryByRole('alert')).toBeNull()
    expect(env.server.stats.refreshGranted).toBe(1)
  }, 20_000)
})

describe('a provider mounted while a warning is being given', () => {
  test('shows the idle modal and the session-ending banner at once (session.warnings)', async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 4_000 })
    const { session } = await env.browser({ rotation: 'request', idle: { timeout: 4_000, warning: 3_500 }, sessionEnding: { warning: 3_500 } })
    await waitFor(() => expect(session.warnings.idle !== null && session.warnings.ending !== null).toBe(true), { timeout: 3_000 })
    const tab = renderTab(session)
    expect(tab.getByRole('dialog')).toBeTruthy()
    expect(tab.getByRole('alert').dataset.endsAt).toBe(String(session.state.refreshExpiresAt))
  })
})

describe('useSessionFetch', () => {
  test('loads through the session (waits for the rotation an expired AT needs), and is stable', async () => {
    env = await startEnv({ accessTokenTtl: 2_000 })
    const { session } = await env.browser({ rotation: 'request' })
    const fetches = new Set<unknown>()
    function List() {
      const fetch = useSessionFetch()
      fetches.add(fetch)
      const [items, setItems] = useState<string | null>(null)
      const [n, setN] = useState(0)
      return (
        <>
          <button
            onClick={() =>
              void fetch(`${env.url}/api/items?n=${n}`)
                .then(r => r.json())
                .then((body: { path: string }) => setItems(body.path))
            }
          >
            Load
          </button>
          <button onClick={() => setN(n + 1)}>Again</button>
          <output>{items}</output>
        </>
      )
    }
    render(
      <SessionProvider session={session}>
        <List />
      </SessionProvider>,
    )
    fireEvent.click(screen.getByRole('button', { name: 'Again' }))
    // Let the AT expire: the next load rotates first instead of meeting a 401.
    await waitFor(() => expect(Date.now()).toBeGreaterThan(session.state.accessExpiresAt!), { timeout: 4_000 })
    fireEvent.click(screen.getByRole('button', { name: 'Load' }))
    await waitFor(() => expect(screen.getByRole('status').textContent).toContain('/api/items'))
    expect(fetches.size).toBe(1)
    expect(env.server.stats.api200).toBe(1)
    expect(env.server.stats.api401).toBe(0)
    expect(env.server.stats.refreshGranted).toBe(1)
  })
})
