// The grant types ZenoAuth serves, by the names their RFCs give them (no schema library, so the
// token function can name them without loading zod).

/** RFC 8628 §3.4: the device authorization grant. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT] as const;
