/** The model auth server of the simulator: rotating RTs with reuse detection on virtual time, its faults, and what it saw. */
import { LATE_ANSWER_FACTOR } from '../../src/core/deadlines.js'
import type { Scheduler } from './scheduler.js'

export const AT_TTL = 60_000
export const RT_TTL = 3_600_000

/** `answered`: a client received this token; `successorKnownAt`: when a client received the pair that consumed this RT (or knew it spent). */
/** `holders`: where tracked (worker worlds), the participants this token was delivered to (see {@link ModelServer.trackHolders}). */
type Token = {
  kind: 'at' | 'rt'
  family: number
  n: number
  expiresAt: number
  consumed: boolean
  answered: boolean
  successorKnownAt: number
  holders?: Set<string>
  landedLate?: boolean
}
type Family = { id: number; revoked: boolean; newest: string }
/** The browser's cookie jar for the auth origin: the AT and the RT cookies. */
type Cookies = Map<'at' | 'rt', string>
/** What may go wrong with one call, drawn by the scheduler while faults are on. */
export type Fault = 'none' | 'slow' | 'drop' | 'lost-answer' | 'hang' | 'body-hangs' | '503' | 'proxy-html' | 'late'
type Answer = { status: number; body: string; headers?: Record<string, string> }

const FAULTS: ReadonlyArray<readonly [number, Fault]> = [
  [70, 'none'],
  [8, 'slow'],
  [4, 'drop'],
  [3, 'lost-answer'],
  [3, 'hang'],
  [3, 'body-hangs'],
  [5, '503'],
  [3, 'proxy-html'],
  [4, 'late'],
]

/**
 * What the server did with a call: its answer, and what happens when its headers (`headers`) or
 * its body (`delivered`) reach the page; `spent`: a refresh whose RT the client now knows is spent;
 * `lost`: a grant whose answer reaches no page (its page went with the call on the wire).
 */
/** When a call was sent, and the time it is judged by (see #refresh). */
type Sent = { judged: number; sentAt: number }

/** `headers(late)`: the answer's headers arrived; `late`, by a gone page's keepalive call later than the next holder's documented wait for it. */
type Handled = { answer: Answer; headers?: (late?: boolean) => void; delivered?: () => void; spent?: () => void; lost?: () => void }

/** The RT a bearer client put in the body, if any. */
function bodyToken(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { refreshToken?: string }).refreshToken
  } catch {
    return undefined
  }
}

/** A body stream that never yields a byte and errors when `signal` aborts. */
function hangingBody(signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      signal?.addEventListener('abort', () => controller.error(signal.reason), { once: true })
    },
  })
}

export type ServerStats = {
  faults: number
  refreshCalls: number
  refreshGranted: number
  reusedRefused: number
  api200: number
  api401: number
  logouts: number
  restarts: number
}

/**
 * Tokens are opaque strings `sim-at-…`/`sim-rt-…` (no signature: WebCrypto runs on a thread
 * pool and would make timing real). The server clock is the scheduler's plus `epoch`.
 */
export class ModelServer {
  readonly stats: ServerStats = { faults: 0, refreshCalls: 0, refreshGranted: 0, reusedRefused: 0, api200: 0, api401: 0, logouts: 0, restarts: 0 }
  /** Broken invariants the server itself can see (an RT presented twice). */
  readonly violations: string[] = []
  faultsOn = false
  refreshTimeout = 5000
  /**
   * The extended model's oracle: an RT also counts as known spent once a 2xx to it reached the
   * page's headers (bearer: the body may never come) or once the client gave up an answer due
   * within the documented wait (3 × refreshTimeout).
   */
  strict = false
  /** A broken server: refresh answers say `expiresIn: 0` (the AT still lives AT_TTL here). */
  expiresAtOnce = false
  /** Faults for the next calls, in order, whatever the draw (model tests). */
  readonly forced: Fault[] = []
  /** The resource server refuses every AT (its key changed): a storm trigger only the refresh budget bounds. */
  apiRefuses = false
  /** When each participant last sent a refresh call (world.ts `unmount`: a disposed tab may hold the lock until that attempt's give-up). */
  readonly refreshSentAt = new Map<string, number>()
  /** Families a logout presented to the server never read (a drop, a 503, a proxy's page): a best-effort revocation the network lost. */
  readonly revocationsLost = new Set<number>()
  /** Told of each refresh granted: how long ago the RT presented was minted, and whether its call drew a fault (invariants.ts ForgedRequestWatch). */
  onGrant: ((age: number, faulted: boolean) => void) | undefined
  /** Told when a granted refresh's answer reaches no page (its page went with the call on the wire): no session learned what it minted. */
  onGrantLost: (() => void) | undefined
  /** A client presented a token of `family` the server took (an API call's AT, a refresh's RT): some session is on it. */
  onPresented: ((family: number) => void) | undefined
  /** The browser's cookie jar for the auth origin (cookie transport): every tab sends and updates the same one. */
  readonly cookies: Cookies = new Map()
  #tokens = new Map<string, Token>()
  #families: Family[] = []
  /** Worker worlds: whether a participant (a tab, a worker run, the storage) still lives. */
  #holderLives: ((participant: string) => boolean) | undefined
  readonly #scheduler: Scheduler
  readonly #epoch: number

  constructor(scheduler: Scheduler, epoch: number) {
    this.#scheduler = scheduler
    this.#epoch = epoch
  }

  now(): number {
    return this.#epoch + this.#scheduler.now
  }

  /** A login: a new family, its first pair as the app's own login answer would carry it (`delivered`: a live page got it). */
  login(delivered = true): { accessToken: string; refreshToken: string; expiresIn: number; refreshExpiresIn: number } {
    const family: Family = { id: this.#families.length + 1, revoked: false, newest: '' }
    this.#families.push(family)
    return this.#mint(family, delivered)
  }

  /** The id of the newest family (the newest login). */
  get newestFamily(): number {
    return this.#families.length
  }

  /** Forgets every token (a restart of a server keeping them in memory). */
  restart(): void {
    this.stats.restarts++
    this.#tokens = new Map()
    for (const family of this.#families) family.revoked = true
  }

  /** A family whose newest RT is alive and was delivered to a client: a session ending now lost a usable login. */
  liveDeliveredFamilies(): number[] {
    return this.#families.filter(f => !f.revoked && this.#alive(f.newest) && this.#tokens.get(f.newest)!.answered).map(f => f.id)
  }

  /**
   * Whether the browser's cookie jar holds `family`'s newest RT (cookie transport): the jar keeps
   * one RT, and a late Set-Cookie (a reloaded page's keepalive refresh) overwrites a newer
   * login's, which no client then holds (sim seed 18369).
   */
  jarHolds(family: number): boolean {
    return this.cookies.get('rt') === this.#families[family - 1]?.newest
  }

  /** Families still usable on the server. */
  liveFamilies(): number[] {
    return this.#families.filter(f => !f.revoked && this.#alive(f.newest)).map(f => f.id)
  }

  #alive(rt: string): boolean {
    const token = this.#tokens.get(rt)
    return token !== undefined && !token.consumed && this.now() < token.expiresAt
  }

  #mint(family: Family, answered: boolean) {
    const n = this.#tokens.size + 1
    const at = `sim-at-${family.id}-${n}`
    const rt = `sim-rt-${family.id}-${n}`
    this.#tokens.set(at, { kind: 'at', family: family.id, n, expiresAt: this.now() + AT_TTL, consumed: false, answered, successorKnownAt: Infinity })
    const holders = this.#holderLives ? { holders: new Set<string>() } : {}
    this.#tokens.set(rt, { kind: 'rt', family: family.id, n, expiresAt: this.now() + RT_TTL, consumed: false, answered, successorKnownAt: Infinity, ...holders })
    family.newest = rt
    return { accessToken: at, refreshToken: rt, expiresIn: AT_TTL / 1000, refreshExpiresIn: RT_TTL / 1000 }
  }

  /**
   * The `fetch` of a tab: every call a network round trip on virtual time, with a fault drawn
   * while faults are on. An answer reaches no page once `alive()` is false (closed, crashed or
   * reloaded): the RT it carried is then known to nobody.
   */
  fetchFor(alive: () => boolean, participant?: string): typeof fetch {
    return (input, init) => this.#fetch(alive, input, init, participant)
  }

  /**
   * Worker worlds: from now on each RT records the participants it reached (a page's login or
   * refresh answer, a port or channel message, a storage write: {@link heard}), and `lives`
   * says whether one still runs. A bearer RT lives in memory only (`persist: false`): once every
   * participant it reached is gone (a killed worker run, a reloaded page), no client holds it.
   */
  trackHolders(lives: (participant: string) => boolean): void {
    this.#holderLives = lives
  }

  /** `participant` received `data` (a message, a login answer, a stored value): every RT in it is now held there too. */
  heard(participant: string, data: unknown): void {
    if (!this.#holderLives) return
    const text = typeof data === 'string' ? data : JSON.stringify(data)
    for (const [rt] of text?.matchAll(/sim-rt-\d+-\d+/g) ?? []) this.#tokens.get(rt)?.holders?.add(participant)
  }

  /**
   * Whether a client may still hold `family`'s newest RT: untracked, always; tracked, while
   * one participant it reached lives (a rotation worker's bearer RT never enters a page, and
   * dies with the run: docs/guides/worker.md names that cost).
   */
  mayHold(family: number): boolean {
    const holders = this.holdersOf(family)
    const lives = this.#holderLives
    return !holders || !lives || holders.some(participant => lives(participant))
  }

  /** The participants `family`'s newest RT reached (worker worlds), or undefined where untracked. */
  holdersOf(family: number): string[] | undefined {
    const newest = this.#families[family - 1]?.newest
    const holders = newest === undefined ? undefined : this.#tokens.get(newest)?.holders
    return holders && [...holders]
  }

  async #fetch(alive: () => boolean, input: RequestInfo | URL, init: RequestInit = {}, participant?: string): Promise<Response> {
    // A plain GET is read without building a Request (undici's Request was the model's costliest part).
    const plainGet = typeof input === 'string' && init.body == null && (init.method ?? 'GET').toUpperCase() === 'GET'
    const request = plainGet ? { method: 'GET', url: input, headers: new Headers(init.headers) } : new Request(input, init)
    const body = request.method === 'GET' ? '' : await (request as Request).text()
    const path = new URL(request.url).pathname
    const drawn: Fault = this.forced.shift() ?? (this.faultsOn ? this.#scheduler.random.weighted(FAULTS) : 'none')
    // A hung API call is the app's to bound (its own signal), not Rotor's: only a refresh hangs.
    const fault: Fault = (drawn === 'hang' || drawn === 'body-hangs') && !path.endsWith('/refresh') ? 'slow' : drawn
    const random = this.#scheduler.random
    const there = fault === 'slow' ? random.int(200, 3000) : random.int(1, 40)
    const back = fault === 'late' ? this.refreshTimeout * random.int(1, 4) : fault === 'slow' ? random.int(200, 3000) : random.int(1, 40)
    this.#scheduler.note(`net ${request.method} ${path} ${fault}`)
    if (participant !== undefined && path.endsWith('/refresh')) this.refreshSentAt.set(participant, this.#scheduler.now)
    if (fault !== 'none') this.stats.faults++
    if (path.endsWith('/logout') && (fault === 'drop' || fault === '503' || fault === 'proxy-html'))
      for (const family of this.#presented(request.headers, body, this.cookies)) this.revocationsLost.add(family.id)
    const sentAt = this.#scheduler.now
    // The browser attaches the jar's cookies when it sends the call, not when the server reads it
    // (a logout sent before a login must present the old session's RT: sim seed 16151).
    const jar = new Map(this.cookies)
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined
      let settled = false
      let spent: { due: number; mark: () => void } | undefined
      // Settled, the call stops listening: Node keeps a composite signal with an abort listener alive for good (memory grew with every schedule).
      const settle = (fn: () => void) => void (!settled && ((settled = true), signal?.removeEventListener('abort', abort), fn()))
      let reached = false
      const abort = () => {
        // The client's own give-up (a TimeoutError, not a logout or a disposal).
        const gaveUp = !settled && (signal?.reason as Error | undefined)?.name === 'TimeoutError'
        // A logout given up so before the server read it (a slow network): lost as a drop is (sim `--worker --extended` seed 143759).
        if (gaveUp && !reached && path.endsWith('/logout')) for (const family of this.#presented(request.headers, body, jar)) this.revocationsLost.add(family.id)
        // A refresh given up so before an answer due within the documented wait.
        if (gaveUp && spent && spent.due - sentAt < LATE_ANSWER_FACTOR * this.refreshTimeout - 100) spent.mark()
        settle(() => reject(signal?.reason ?? new DOMException('aborted', 'AbortError')))
      }
      if (signal?.aborted) return abort()
      signal?.addEventListener('abort', abort, { once: true })
      if (fault === 'drop') return void this.#scheduler.after(there, 'net drop', () => settle(() => reject(new TypeError('fetch failed'))))
      this.#scheduler.after(there, `server ${path}`, () => {
        if (settled) return
        reached = true
        const handled = this.#handle(path, request.headers, body, fault, { judged: alive() ? Infinity : sentAt, sentAt }, jar, participant)
        if (fault === 'hang') return
        if (this.strict && handled.spent) spent = { due: this.#scheduler.now + back, mark: handled.spent }
        // Set-Cookie applies when the headers arrive, whatever becomes of the body or the page.
        const withHeaders = () => handled.headers?.()
        this.#scheduler.after(back, `answer ${path} ${handled.answer.status}`, () => {
          // A keepalive call outlives its page: its Set-Cookie still lands (a reload mid-refresh).
          // The next lock holder waits for it `refreshTimeout` from when it was sent (inFlightLimitMs,
          // src/core/deadlines.ts): one landing later is the documented cost (sim seeds 172884, 223372).
          if (!alive()) {
            handled.lost?.()
            return void (init.keepalive && fault !== 'lost-answer' && handled.headers?.(this.#scheduler.now - sentAt > this.refreshTimeout))
          }
          settle(() => {
            if (fault === 'lost-answer') return reject(new TypeError('fetch failed'))
            const { status, headers = {} } = handled.answer
            withHeaders()
            // Headers arrive, the body never does: only the request's signal ends the read (as fetch errors the body on abort).
            if (fault === 'body-hangs') return resolve(new Response(hangingBody(signal), { status, headers }))
            handled.delivered?.()
            resolve(new Response(status === 204 ? null : handled.answer.body, { status, headers }))
          })
        })
      })
    })
  }

  #handle(path: string, headers: Headers, body: string, fault: Fault, sent: Sent, jar: Cookies, participant?: string): Handled {
    if (fault === '503') return { answer: { status: 503, body: 'busy', headers: { 'retry-after': '1' } } }
    if (fault === 'proxy-html') return { answer: { status: 502, body: '<html><body>Bad gateway</body></html>', headers: { 'content-type': 'text/html' } } }
    if (path.endsWith('/refresh')) return this.#refresh(body, sent, jar, participant, fault !== 'none')
    // The logout's answer expires the cookies when its headers arrive (Set-Cookie), like any answer's.
    if (path.endsWith('/logout')) return { answer: this.#logout(headers, body, jar), headers: () => this.cookies.clear() }
    return { answer: this.#api(headers, jar) }
  }

  /**
   * `sent.judged`: when a page that is gone sent the call (a call on the wire arrives after an answer a
   * later call got); Infinity for a live page's, which must never present a spent RT, unless the
   * RT's successor reached the jar only by a gone page's keepalive call landing after the wait
   * Rotor documents for it (`landedLate`): then a live page's call sent before it landed is no fault.
   */
  #refresh(body: string, sent: Sent, jar: Cookies, participant?: string, faulted = false): Handled {
    this.stats.refreshCalls++
    const inBody = bodyToken(body)
    // No RT in the body: the cookie transport's, from the jar.
    const presented = inBody ?? jar.get('rt')
    const token = presented === undefined ? undefined : this.#tokens.get(presented)
    if (!token || token.kind !== 'rt') return { answer: { status: 401, body: '{"error":"invalid_grant"}' } }
    const family = this.#families[token.family - 1]!
    if (token.consumed) {
      // A second presentation is the client's fault only if it had the first answer (when it sent
      // it, for a page that is gone: it cannot recall a call already on the wire, sim seed 68344).
      const judged = token.landedLate ? sent.sentAt : sent.judged
      if (token.successorKnownAt !== Infinity && token.successorKnownAt <= judged) this.violations.push(`rt-presented-twice: family ${family.id} token ${token.n}`)
      family.revoked = true
      this.stats.reusedRefused++
      return { answer: { status: 401, body: '{"error":"invalid_grant","error_description":"reused"}' } }
    }
    if (family.revoked || this.now() >= token.expiresAt) return { answer: { status: 401, body: '{"error":"invalid_grant"}' } }
    token.consumed = true
    this.onPresented?.(family.id)
    const pair = this.#mint(family, false)
    this.stats.refreshGranted++
    this.onGrant?.(this.now() - (token.expiresAt - RT_TTL), faulted)
    const minted = [this.#tokens.get(pair.accessToken)!, this.#tokens.get(pair.refreshToken)!]
    const known = () => {
      for (const fresh of minted) fresh.answered = true
      if (participant !== undefined && inBody !== undefined) minted[1]!.holders?.add(participant)
      token.successorKnownAt = Math.min(token.successorKnownAt, this.#scheduler.now)
    }
    const json = { 'content-type': 'application/json' }
    const spent = () => void (token.successorKnownAt = Math.min(token.successorKnownAt, this.#scheduler.now))
    const lost = () => this.onGrantLost?.()
    if (this.expiresAtOnce) pair.expiresIn = 0
    if (inBody !== undefined)
      return { answer: { status: 200, body: JSON.stringify(pair), headers: json }, delivered: known, spent, lost, ...(this.strict ? { headers: spent } : {}) }
    const { expiresIn, refreshExpiresIn } = pair
    const setCookies = (late = false) => (this.cookies.set('at', pair.accessToken).set('rt', pair.refreshToken), (token.landedLate = late), known())
    return { answer: { status: 200, body: JSON.stringify({ expiresIn, refreshExpiresIn }), headers: json }, headers: setCookies, spent, lost }
  }

  #logout(headers: Headers, body: string, jar: Cookies): Answer {
    this.stats.logouts++
    for (const family of this.#presented(headers, body, jar)) family.revoked = true
    return { status: 204, body: '' }
  }

  /** The families whose tokens a call carries (the bearer AT, the RT in its body or the jar). */
  #presented(headers: Headers, body: string, jar: Cookies): Family[] {
    const bearer = headers.get('authorization')?.replace(/^Bearer /, '')
    const rt = bodyToken(body) ?? jar.get('rt')
    return [bearer, rt].flatMap(known => {
      const token = known === undefined ? undefined : this.#tokens.get(known)
      return token ? [this.#families[token.family - 1]!] : []
    })
  }

  /** Whether the resource servers take `at` now (the API, and the socket and stream servers of sockets.ts): a live AT of a family not revoked. */
  takes(at: string | undefined): boolean {
    const token = at === undefined ? undefined : this.#tokens.get(at)
    return !this.apiRefuses && token?.kind === 'at' && !this.#families[token.family - 1]!.revoked && this.now() < token.expiresAt
  }

  #api(headers: Headers, jar: Cookies): Answer {
    const at = headers.get('authorization')?.replace(/^Bearer /, '') ?? jar.get('at')
    const ok = this.takes(at)
    if (ok) this.onPresented?.(this.#tokens.get(at!)!.family)
    if (ok) this.stats.api200++
    else this.stats.api401++
    return ok ? { status: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } } : { status: 401, body: 'unauthorized' }
  }
}
