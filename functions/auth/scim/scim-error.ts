// SCIM errors in the shape RFC 7644 §3.12 fixes: the Error schema, `status` as a string, and
// `scimType` for the 400s and 409s that the RFC names.
import { AppError } from '#shared/http/errors';

/** @see https://www.rfc-editor.org/rfc/rfc7644#section-3.12 (Table 9) */
type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimError extends AppError {
  readonly scimType: ScimType | undefined;
  constructor(status: number, detail: string, scimType?: ScimType, headers?: Record<string, string>) {
    super(status, scimType ?? `scim_${status}`, 'SCIM error', { detail, ...(headers ? { headers } : {}) });
    this.name = 'ScimError';
    this.scimType = scimType;
  }

  override getResponse(): Response {
    return scimErrorResponse(this.status, this.detail ?? this.message, this.scimType, this.headers);
  }
}

function scimErrorResponse(status: number, detail: string, scimType?: string, headers?: Record<string, string>): Response {
  const body: Record<string, unknown> = { schemas: [ERROR_SCHEMA], status: String(status), detail };
  if (scimType) body.scimType = scimType;
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': SCIM_CONTENT_TYPE, ...headers } });
}

/** The platform's own errors (413, no route, 503, the fixed 500) in the SCIM shape. */
export function scimShaped(err: AppError): Response {
  if (err instanceof ScimError) return err.getResponse();
  return scimErrorResponse(err.status, err.status >= 500 && err.status !== 503 ? 'internal error' : (err.detail ?? err.message), undefined, err.headers);
}

export const invalidValue = (detail: string) => new ScimError(400, detail, 'invalidValue');
export const invalidSyntax = (detail: string) => new ScimError(400, detail, 'invalidSyntax');
export const invalidFilter = (detail: string) => new ScimError(400, detail, 'invalidFilter');
export const invalidPath = (detail: string) => new ScimError(400, detail, 'invalidPath');
export const noTarget = (detail: string) => new ScimError(400, detail, 'noTarget');
export const uniqueness = (detail: string) => new ScimError(409, detail, 'uniqueness');
export const scimNotFound = (detail = 'Resource not found.') => new ScimError(404, detail);
