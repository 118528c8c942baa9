/** DPoP for the XHR facade: the headers of one attempt (`Authorization: DPoP <AT>` and its proof), and whether the answer refuses that proof alone. */
import { accessTokenOf, type Dpop, type DpopKit } from './index.js'
import { refusesProof } from './nonces.js'

/** What the facade reads of its real XHR once the answer's headers are in. */
export type XhrAnswer = Pick<XMLHttpRequest, 'readyState' | 'status' | 'getResponseHeader'>

/** One attempt's DPoP: its headers, and the verdict on its answer. */
export type XhrProof = {
  headers: Array<[string, string]>
  /**
   * True when `answer` refuses the proof, not the tokens (a resource server's `use_dpop_nonce`
   * with a new nonce, or `invalid_dpop_proof`): the facade sends the request once more at once,
   * neither a rotation nor its one 401 replay. The first call with the headers in keeps the
   * server's nonce (it may send a new one on any answer) and settles the verdict.
   */
  refused(answer: XhrAnswer): boolean
}

/** Signs one attempt of `method` `url` with the AT `authorization` carries (`Bearer <AT>`, as the facade builds it). */
export async function xhrProof(dpop: Dpop, kit: DpopKit, method: string, url: string, authorization: string): Promise<XhrProof> {
  const [, requestURL, , , , RotorTypeError] = kit
  const target = requestURL(url)
  // XHR would refuse the URL as well; the facade fails the request as a network error.
  if (target === undefined) throw new RotorTypeError('ERR_USAGE', 'rotor-auth: the XHR facade could not resolve the URL to sign')
  const accessToken = accessTokenOf(authorization)
  const { proof, nonce } = await dpop.sign(method, target, accessToken)
  let verdict: boolean | undefined
  return {
    headers: [
      ['Authorization', `DPoP ${accessToken ?? ''}`],
      ['DPoP', proof],
    ],
    refused(answer) {
      // Headers not in yet (some XHRs say LOADING with status 0 first).
      if (answer.readyState < 2 || answer.status === 0) return false
      if (verdict === undefined) {
        const read = { status: answer.status, headers: { get: (name: string) => answer.getResponseHeader(name) } }
        dpop.remember(target.origin, read)
        verdict = refusesProof(read, nonce)
      }
      return verdict
    },
  }
}
