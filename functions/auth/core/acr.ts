// The acr values ZenoAuth issues (OIDC Core §2 "acr"), from the weakest to the strongest.
export const ACR = Object.freeze({ password: 'urn:zenokube:acr:pwd', mfa: 'urn:zenokube:acr:mfa' });
