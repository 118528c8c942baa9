/** The simulator's own parts checked against the browser behaviour they model: the oracle must be right before it judges Rotor. */
import { describe, expect, test } from 'vitest'
import { Origin } from './origin.js'
import { Scheduler } from './scheduler.js'
import { ModelServer } from './server.js'

async function drain(scheduler: Scheduler): Promise<void> {
  for (let i = 0; i < 1000 && (await scheduler.step()); i++);
}

/** Runs the scheduler until `promise` settles (the server reads a body before it schedules anything). */
async function settled<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  let done = false
  void promise.finally(() => (done = true)).catch(() => undefined)
  for (let i = 0; i < 1000 && !done; i++) if (!(await scheduler.step())) await new Promise(resolve => setImmediate(resolve))
  return promise
}

describe('the simulator model', () => {
  test('the scheduler runs events in time order, ties in scheduling order, and cancelled ones never', async () => {
    const scheduler = new Scheduler(1)
    const ran: string[] = []
    scheduler.after(20, 'b', () => ran.push('b'))
    scheduler.after(10, 'a', () => ran.push('a'))
    scheduler.after(20, 'c', () => ran.push('c'))
    scheduler.after(5, 'x', () => ran.push('x')).cancel()
    await drain(scheduler)
    expect(ran).toEqual(['a', 'b', 'c'])
    expect(scheduler.now).toBe(20)
  })

  test('a channel delivers to every other tab of the name, in order per sender, never to the sender', async () => {
    const scheduler = new Scheduler(2)
    const origin = new Origin(scheduler)
    const open = (tab: string) => origin.channel(tab, fn => fn())('n')
    const [a, b, c] = [open('a'), open('b'), open('c')]
    const heard: Record<string, unknown[]> = { a: [], b: [], c: [] }
    a.onmessage = e => heard['a']!.push(e.data)
    b.onmessage = e => heard['b']!.push(e.data)
    c.onmessage = e => heard['c']!.push(e.data)
    for (let i = 0; i < 20; i++) a.postMessage(i)
    await drain(scheduler)
    expect(heard['a']).toEqual([])
    expect(heard['b']).toEqual([...Array(20).keys()])
    expect(heard['c']).toEqual([...Array(20).keys()])
  })

  test('Web Locks are exclusive and FIFO; a tab closed without a goodbye releases what it held', async () => {
    const scheduler = new Scheduler(3)
    const origin = new Origin(scheduler)
    const order: string[] = []
    void origin.locks('a').request('l', () => (order.push('a'), new Promise(() => undefined))) // held forever
    void origin.locks('b').request('l', async () => void order.push('b'))
    await drain(scheduler)
    expect(order).toEqual(['a'])
    origin.closeTab('a')
    await drain(scheduler)
    expect(order).toEqual(['a', 'b'])
  })

  test('the server: a rotated RT presented again revokes the family, and counts as the client’s fault only once its answer arrived', async () => {
    const scheduler = new Scheduler(4)
    const server = new ModelServer(scheduler, 0)
    const grant = server.login()
    const fetch = server.fetchFor(() => true)
    const refresh = () => fetch('https://app.sim/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken: grant.refreshToken }) })
    expect((await settled(scheduler, refresh())).status).toBe(200)
    expect((await settled(scheduler, refresh())).status).toBe(401)
    expect(server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 1 })
    expect(server.violations).toHaveLength(1)
    expect(server.liveFamilies()).toEqual([])
  })
})

describe('the extended model (zoo.test.ts)', () => {
  /** A strict server with one login, and a bearer refresh of `rt` that gives up (as Rotor's give-up does) after `giveUpMs`. */
  function strictServer(seed: number) {
    const scheduler = new Scheduler(seed)
    const server = new ModelServer(scheduler, 0)
    server.strict = true
    server.refreshTimeout = 1000
    const grant = server.login()
    const fetch = server.fetchFor(() => true)
    const refresh = async (giveUpMs?: number, reason = new DOMException('no answer', 'TimeoutError')) => {
      const controller = new AbortController()
      const sent = fetch('https://app.sim/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken: grant.refreshToken }), signal: controller.signal })
      // The server reads the body before it schedules anything: the give-up is armed once it has.
      await new Promise(resolve => setImmediate(resolve))
      if (giveUpMs !== undefined) scheduler.after(giveUpMs, 'give up', () => controller.abort(reason))
      return sent
    }
    return { scheduler, server, refresh }
  }

  test('a bearer 2xx whose body never comes: its headers tell the client the RT is spent, and presenting it again is the client’s fault', async () => {
    const { scheduler, server, refresh } = strictServer(5)
    server.forced.push('body-hangs')
    expect((await settled(scheduler, refresh())).status).toBe(200)
    expect(server.violations).toHaveLength(0)
    expect((await settled(scheduler, refresh())).status).toBe(401)
    expect(server.violations).toHaveLength(1)
  })

  test('an answer due within 3 × refreshTimeout that the client gave up (TimeoutError) makes the RT known spent; a logout’s abort does not', async () => {
    for (const [reason, flagged] of [
      [new DOMException('no answer', 'TimeoutError'), 1],
      [new DOMException('logged out', 'AbortError'), 0],
    ] as const) {
      const { scheduler, server, refresh } = strictServer(6)
      server.forced.push('late')
      // 'late' answers 1–4 × refreshTimeout after the server spent the RT (it has it within 40 ms); the client gives up at 500 ms.
      await expect(settled(scheduler, refresh(500, reason))).rejects.toThrow()
      await drain(scheduler)
      const due = Number(scheduler.trace.find(line => / answer \/auth\/refresh 200$/.test(line))!.split(' ')[0])
      expect((await settled(scheduler, refresh())).status).toBe(401)
      expect(due).toBeLessThan(2900)
      expect(server.violations).toHaveLength(flagged)
    }
  })

  test('a broken server answers expiresIn 0 for an AT that works; an API that refuses every AT refuses a fresh one', async () => {
    const scheduler = new Scheduler(7)
    const server = new ModelServer(scheduler, 0)
    server.expiresAtOnce = true
    const { refreshToken } = server.login()
    const fetch = server.fetchFor(() => true)
    const answer = await settled(scheduler, fetch('https://app.sim/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken }) }))
    const pair = (await answer.json()) as { accessToken: string; expiresIn: number }
    expect(pair.expiresIn).toBe(0)
    const api = () => fetch('https://app.sim/api/data', { headers: { authorization: `Bearer ${pair.accessToken}` } })
    expect((await settled(scheduler, api())).status).toBe(200)
    server.apiRefuses = true
    expect((await settled(scheduler, api())).status).toBe(401)
  })
})
