// The IdP's metadata (SAML Metadata §2.4.3 IDPSSODescriptor): signing certificates, SSO and SLO
// endpoints over HTTP-Redirect and HTTP-POST, the NameID formats we issue.
import { BINDING, NAMEID_FORMATS, NS } from './constants.js';
import { esc } from './xml.js';

/** The IdP endpoints of a tenant under its issuer. */
export const samlEndpoints = (issuer: string) => ({
  entityId: `${issuer}/saml/metadata`,
  metadata: `${issuer}/saml/metadata`,
  sso: `${issuer}/saml/sso`,
  slo: `${issuer}/saml/slo`,
  login: `${issuer}/saml/login`,
  idpInitiated: `${issuer}/saml/idp-initiated`,
});

/**
 * The tenant's metadata. `wantAuthnRequestsSigned` is false in the tenant-wide document (each SP's
 * registration decides); the per-SP document ({issuer}/saml/metadata?sp=…) states that SP's setting,
 * for SP libraries that insist both sides agree.
 */
export function idpMetadataXml(issuer: string, certificates: readonly string[], wantAuthnRequestsSigned = false): string {
  const e = samlEndpoints(issuer);
  const keys = certificates
    .map((c) => `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
    .join('');
  const services = (name: string, url: string) =>
    [BINDING.redirect, BINDING.post].map((b) => `<md:${name} Binding="${b}" Location="${esc(url)}"/>`).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${esc(e.entityId)}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="${wantAuthnRequestsSigned}" protocolSupportEnumeration="${NS.protocol}">` +
    keys +
    services('SingleLogoutService', e.slo) +
    NAMEID_FORMATS.map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join('') +
    services('SingleSignOnService', e.sso) +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`
  );
}
