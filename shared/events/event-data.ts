// The JSON data of a CloudEvent delivered to a function's endpoint (binary or structured mode),
// or a 400 that says the data is not JSON: what an event-driven function reads first.
import { badRequest } from '#shared/http/errors';
import { jsonData, parseCloudEvent } from './cloudevent.js';

export async function eventDataOf(req: Request): Promise<unknown> {
  const wire = parseCloudEvent(req.headers, new Uint8Array(await req.arrayBuffer()));
  try {
    return jsonData(wire);
  } catch {
    throw badRequest('invalid_event_data', 'The event data is not JSON.');
  }
}
