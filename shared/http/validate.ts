// Input validation at the edge: any malformed body becomes a clear 4xx problem, never a 500.
import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from './errors.js';

/** Formats zod issues as `{ path, message }` pairs for the problem's `errors` member. */
function describeIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
}

/** Reads the raw body text, refusing non-JSON content types with 415. */
async function readJsonText(c: Context): Promise<string> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported Media Type', {
      detail: 'Send the body as application/json.',
    });
  }
  return c.req.text();
}

/** Parses JSON text; malformed JSON is a 400 `malformed_json`. */
function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError(400, 'malformed_json', 'Bad Request', {
      detail: `The body is not valid JSON: ${(err as Error).message}`,
    });
  }
}

/** Validates a value against a schema; a mismatch is a 422 listing each problem. */
function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(422, 'validation_failed', 'Unprocessable Content', {
      detail: 'The request body does not match the expected shape.',
      extras: { errors: describeIssues(result.error) },
    });
  }
  return result.data;
}

/** Reads, parses and validates a JSON request body. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  return validate(schema, parseJsonText(await readJsonText(c)));
}
