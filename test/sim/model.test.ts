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
