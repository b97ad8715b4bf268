// ZenoLMS's refusals as problem details: a status, a stable code the client can branch on.
import { AppError } from '#shared/http/errors';

export const notFound = (what: string) => new AppError(404, 'not_found', 'Not Found', { detail: `No such ${what}.` });

/** A rule refused the request; the code is the validation code (Keygen's names) or our own. */
export const unprocessable = (code: string, detail: string) => new AppError(422, code, 'Unprocessable Content', { detail });

export const conflict = (code: string, detail: string) => new AppError(409, code, 'Conflict', { detail });
