// SAML 2.0 names: namespaces, bindings, NameID formats, status codes and the algorithms we sign
// with (SAML Core §8, SAML Bindings §3, XML-DSig 1.1 §6, exc-c14n).

export const NS = Object.freeze({
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
});

export const BINDING = Object.freeze({
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
});

/** SAML Core §8.3: the NameID formats this IdP issues. */
export const NAMEID_FORMAT = Object.freeze({
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
});
export const NAMEID_FORMATS: readonly string[] = Object.values(NAMEID_FORMAT);

/** SAML Core §3.2.2.2 status codes. */
export const STATUS = Object.freeze({
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  noPassive: 'urn:oasis:names:tc:SAML:2.0:status:NoPassive',
  invalidNameIdPolicy: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy',
  requestDenied: 'urn:oasis:names:tc:SAML:2.0:status:RequestDenied',
  partialLogout: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout',
});

export const ALG = Object.freeze({
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
});

/** SAML Core §7.1 AuthnContext classes, from the session's acr. */
export const AUTHN_CONTEXT = Object.freeze({
  password: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
  mfa: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
});

/** Allowed clock difference between us and an SP, for IssueInstant checks. */
export const CLOCK_SKEW_SECONDS = 120;
/** How long an assertion's SubjectConfirmation stays usable (SAML Profiles §4.1.4.2). */
export const ASSERTION_TTL_SECONDS = 300;
