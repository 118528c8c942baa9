/** Unit tests for the XHR facade (src/interceptors/xhr.ts) on virtual time: the caller's `timeout` runs on the session's clock and timers. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Interception } from '../../src/interceptors/fetch.js'
import { createXhrClass } from '../../src/interceptors/xhr.js'
import { virtualTime } from '../helpers/virtual-time.js'

/** Node has no ProgressEvent; the facade dispatches them. */
const g = globalThis as { ProgressEvent?: unknown }
const hadProgressEvent = 'ProgressEvent' in g
beforeAll(() => {
  if (!hadProgressEvent) g.ProgressEvent = class ProgressEvent extends Event {}
})
afterAll(() => {
  if (!hadProgressEvent) delete g.ProgressEvent
})

/** A stand-in for the browser's XMLHttpRequest: records what each real attempt was given. */
class FakeXhr extends EventTarget {
  static sent: FakeXhr[] = []
  readyState = 0
  status = 0
  timeout = 0
  withCredentials = false
  responseType = ''
  upload = new EventTarget()
  open() {
    this.readyState = 1
  }
  setRequestHeader() {}
  overrideMimeType() {}
  send() {
    FakeXhr.sent.push(this)
  }
  abort() {}
}

/** A session whose gate holds every request until the test releases it. */
function interception(time: Interception['time']) {
  let release!: () => void
  const ready = new Promise<void>(resolve => (release = resolve))
  const it: Interception = {
    passThrough: () => Promise.reject(new TypeError('not here')),
    sendOwn: () => Promise.reject(new TypeError('not here')),
    looped: () => false,
    claim: () => 'https://h',
    managing: () => true,
    gate: { ready: () => false, wait: () => ready } as unknown as Interception['gate'],
    authorization: () => undefined,
    cookies: true,
    credentials: () => 'same-origin',
    generation: () => 0,
    active: () => true,
    time,
    trace: () => undefined,
  }
  return { it, release }
}

describe('XHR facade timeout', () => {
  test("a request held at the gate times out after `timeout` ms of the session's time", () => {
    const time = virtualTime(1_000_000)
    const Xhr = createXhrClass(FakeXhr as unknown as typeof XMLHttpRequest, interception(time).it)
    const xhr = new Xhr()
    const events: string[] = []
    for (const type of ['loadstart', 'timeout', 'loadend']) xhr.addEventListener(type, () => events.push(type))
    xhr.open('GET', 'https://h/okapi/x')
    xhr.timeout = 1_000
    xhr.send()
    time.advance(999)
    expect(events).toEqual(['loadstart'])
    time.advance(1)
    expect(events).toEqual(['loadstart', 'timeout', 'loadend'])
    expect(xhr.readyState).toBe(4)
    expect(xhr instanceof FakeXhr).toBe(true)
  })

  test('released after waiting, the real request gets what is left of the budget; the facade timer is dropped', async () => {
    FakeXhr.sent = []
    const time = virtualTime(1_000_000)
    const { it, release } = interception(time)
    const xhr = new (createXhrClass(FakeXhr as unknown as typeof XMLHttpRequest, it))()
    xhr.open('GET', 'https://h/okapi/x')
    xhr.timeout = 1_000
    xhr.send()
    time.advance(600)
    release()
    await Promise.resolve()
    await Promise.resolve()
    expect(FakeXhr.sent).toHaveLength(1)
    expect(FakeXhr.sent[0]!.timeout).toBe(400)
    xhr.abort()
    expect(time.pending()).toBe(0)
  })

  test('the budget counts on the monotonic clock: a wall clock set back 10 minutes while the request waits does not stretch it', async () => {
    FakeXhr.sent = []
    const time = virtualTime(1_000_000)
    let shift = 0
    const { it, release } = interception({ ...time, now: () => time.now() + shift, monotonic: time.now })
    const xhr = new (createXhrClass(FakeXhr as unknown as typeof XMLHttpRequest, it))()
    xhr.open('GET', 'https://h/okapi/x')
    xhr.timeout = 1_000
    xhr.send()
    time.advance(600)
    shift = -10 * 60_000
    release()
    await Promise.resolve()
    await Promise.resolve()
    // Before: read on the wall clock, what was left of the budget was 10 minutes and 400 ms.
    expect(FakeXhr.sent[0]!.timeout).toBe(400)
    xhr.abort()
  })
})
