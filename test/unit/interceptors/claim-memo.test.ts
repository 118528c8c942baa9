/** The per-request claim remembers the last absolute URL it claimed: the same answers, without the regular expressions for a repeated URL. */
import { afterEach, expect, test, vi } from 'vitest'
import { Scope } from '../../../src/utils/scope.js'

afterEach(() => {
  vi.restoreAllMocks()
})

test("a URL claimed again is answered without running the scope's regular expressions again", () => {
  const scope = new Scope('https://h/okapi', () => undefined)
  const claim = scope.claim([scope.endpoint('refresh')])
  expect(claim('https://h/okapi/users')).toBe('https://h')
  // RegExp.prototype.test runs `exec` when it was replaced: this counts every match attempted.
  const exec = vi.spyOn(RegExp.prototype, 'exec')
  expect(claim('https://h/okapi/users')).toBe('https://h')
  expect(exec).not.toHaveBeenCalled()
  // Another URL is judged as before.
  expect(claim('https://h/okapi/other')).toBe('https://h')
  expect(exec).toHaveBeenCalled()
})

test('the remembered URL never answers for another: endpoints and other origins between two calls keep their verdicts', () => {
  const scope = new Scope(['https://h/okapi', 'https://k/api'], () => undefined)
  const claim = scope.claim([scope.endpoint('refresh')])
  const verdicts: Array<[string, string | undefined]> = [
    ['https://h/okapi/users', 'https://h'],
    ['https://h/okapi/authn/refresh', undefined],
    ['https://h/okapi/users', 'https://h'],
    ['https://k/api/x', 'https://k'],
    ['https://h/okapi/users?x=1', 'https://h'],
    ['https://evil/okapi/users', undefined],
    ['https://h/okapi/authn/refresh', undefined],
    ['https://k/api/x', 'https://k'],
  ]
  for (const [url, origin] of verdicts) expect(claim(url), url).toBe(origin)
  // A Request's url is remembered the same way, by its text.
  expect(claim(new Request('https://k/api/x'))).toBe('https://k')
  expect(claim(new Request('https://h/okapi/authn/refresh'))).toBeUndefined()
})

test('a relative URL is judged again at every call: the page base (<base href>) may have changed', () => {
  let base = 'https://h/app/'
  const scope = new Scope('https://h/okapi', () => base)
  const claim = scope.claim([])
  expect(claim('/okapi/x')).toBe('https://h')
  base = 'https://evil/'
  expect(claim('/okapi/x')).toBeUndefined()
})

test('a function scope is asked at every call (its verdict may change)', () => {
  let allow = true
  const matches = vi.fn(() => allow)
  const claim = new Scope(matches, () => undefined).claim([])
  expect(claim('https://h/x')).toBe('https://h')
  allow = false
  expect(claim('https://h/x')).toBeUndefined()
  expect(matches).toHaveBeenCalledTimes(2)
})
