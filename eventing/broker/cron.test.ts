import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextCronTime, parseCron } from './cron.js';

const next = (expr: string, after: string) => nextCronTime(parseCron(expr), new Date(after)).toISOString();

describe('nextCronTime (5-field cron, UTC)', () => {
  it('fires every minute for * * * * *', () => {
    assert.equal(next('* * * * *', '2026-03-01T10:00:30Z'), '2026-03-01T10:01:00.000Z');
  });
  it('honours steps, ranges and lists', () => {
    assert.equal(next('*/15 * * * *', '2026-03-01T10:16:00Z'), '2026-03-01T10:30:00.000Z');
    assert.equal(next('0 9-17 * * 1-5', '2026-02-27T17:30:00Z'), '2026-03-02T09:00:00.000Z');
    assert.equal(next('5,10 0 1 * *', '2026-03-01T00:07:00Z'), '2026-03-01T00:10:00.000Z');
  });
  it('matches either day field when both are restricted, as cron does', () => {
    // 13th of the month or a Friday: 2026-03-06 is a Friday, before the 13th.
    assert.equal(next('0 0 13 * 5', '2026-03-01T00:00:00Z'), '2026-03-06T00:00:00.000Z');
  });
  it('finds February 29 years ahead', () => {
    assert.equal(next('0 0 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
  });
  it('rejects malformed expressions', () => {
    for (const bad of ['* * * *', '60 * * * *', '*/0 * * * *', '5-1 * * * *', 'a * * * *']) assert.throws(() => parseCron(bad), TypeError, bad);
  });
});
