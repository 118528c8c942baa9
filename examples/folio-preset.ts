/**
 * The FOLIO / Stripes preset now lives in the `rotor-auth/folio` entry (src/folio/): Okapi
 * URL, tenant header, cookie transport (FOLIO keeps both tokens in HttpOnly cookies), timer
 * mode, and `fromStripesConfig()` for a Stripes app's own `config.rtr`. This example imports
 * it from there, as an app would (`import { createFolioSession } from 'rotor-auth/folio'`):
 *
 *   const session = createFolioSession({ okapiUrl: 'https://folio.example.org/okapi', tenant: 'diku' })
 *   await loginToFolio(session, { okapiUrl, tenant, username, password })
 *   session.install()          // every fetch to Okapi now waits for, and survives, rotations
 */
export { createFolioSession, fromStripesConfig, loginToFolio, type FolioOptions } from '../src/folio/index.js'
