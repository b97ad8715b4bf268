// What a metadata refresh may change of a registration: what the SP states about itself (ACS and
// SLO endpoints, signing and encryption certificates and the key transport its encryption methods
// allow, whether it signs its requests, whether it wants signed assertions). What the admin chose stays: the name, the attribute map, the NameID
// format, response signing, encryption, IdP-initiated sign-in. The entity id cannot change.
import type { SamlServiceProvider } from '../schema.js';
import { SamlError } from './saml-error.js';
import type { SpRegistrationInput } from './sp-registration.js';

export function refreshedRegistration(sp: SamlServiceProvider, fromMetadata: SpRegistrationInput): SpRegistrationInput {
  if (fromMetadata.entity_id !== sp.entityId) throw new SamlError('invalid_metadata', `The metadata names another entityID (${fromMetadata.entity_id.slice(0, 200)}).`, 422);
  return {
    ...fromMetadata,
    ...(sp.name ? { name: sp.name } : {}),
    name_id_format: sp.nameIdFormat,
    // Stored from a validated registration: the sources are the schema's.
    attributes: sp.attributeMap.map((a) => ({ name: a.name, source: a.source, ...(a.friendlyName ? { friendly_name: a.friendlyName } : {}) })) as SpRegistrationInput['attributes'],
    sign_response: sp.signResponse,
    sign_assertion: sp.signAssertion || fromMetadata.sign_assertion === true,
    encrypt_assertion: sp.encryptAssertion,
    allow_idp_initiated: sp.allowIdpInitiated,
  };
}

/** The parts of a registration metadata states, to tell whether a refresh changed anything. */
export function metadataFacts(v: Pick<SamlServiceProvider, 'acs' | 'sloUrl' | 'sloBinding' | 'certificates' | 'encryptionCertificates' | 'keyTransport' | 'wantAuthnRequestsSigned' | 'signAssertion'>): string {
  return JSON.stringify([v.acs, v.sloUrl, v.sloBinding, v.certificates, v.encryptionCertificates, v.keyTransport, v.wantAuthnRequestsSigned, v.signAssertion]);
}
