// Service provider configuration endpoints (RFC 7644 §4): what this server supports, its
// resource types and their schemas (RFC 7643 §5–§7), for clients that discover before they call.
import type { Hono } from 'hono';
import type { AuthRuntime } from '../core/runtime.js';
import { BULK_LIMITS } from './bulk.js';
import { MAX_COUNT } from './list-query.js';
import { scimJson, scimRequest } from './request.js';
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, TOMBSTONE_SCHEMA, USER_SCHEMA } from './schemas.js';
import { scimNotFound } from './scim-error.js';

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name, type, multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...extra,
});
const multi = (name: string, subs: Record<string, unknown>[]) => attr(name, 'complex', { multiValued: true, subAttributes: subs });
const valueSubs = [attr('value', 'string'), attr('type', 'string'), attr('primary', 'boolean')];

const SCHEMAS = [
  {
    id: USER_SCHEMA, name: 'User', description: 'User Account',
    attributes: [
      attr('userName', 'string', { required: true, uniqueness: 'server' }),
      attr('name', 'complex', { subAttributes: [attr('formatted', 'string'), attr('givenName', 'string'), attr('familyName', 'string')] }),
      attr('displayName', 'string'), attr('nickName', 'string'), attr('profileUrl', 'reference'), attr('title', 'string'), attr('userType', 'string'),
      attr('preferredLanguage', 'string'), attr('locale', 'string'), attr('timezone', 'string'), attr('active', 'boolean'),
      attr('password', 'string', { mutability: 'writeOnly', returned: 'never' }),
      multi('emails', valueSubs), multi('phoneNumbers', valueSubs),
      multi('groups', [attr('value', 'string', { mutability: 'readOnly' }), attr('$ref', 'reference', { mutability: 'readOnly' }), attr('display', 'string', { mutability: 'readOnly' }), attr('type', 'string', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] })]),
    ].map((a) => (a.name === 'groups' ? { ...a, mutability: 'readOnly' } : a)),
  },
  {
    id: GROUP_SCHEMA, name: 'Group', description: 'Group, whose members may be users or groups',
    attributes: [
      attr('displayName', 'string', { required: true, uniqueness: 'server' }),
      multi('members', [attr('value', 'string', { mutability: 'immutable' }), attr('$ref', 'reference', { mutability: 'immutable' }), attr('display', 'string', { mutability: 'readOnly' }), attr('type', 'string', { mutability: 'immutable', canonicalValues: ['User', 'Group'] })]),
    ],
  },
  {
    id: ENTERPRISE_SCHEMA, name: 'EnterpriseUser', description: 'Enterprise User',
    attributes: [
      ...['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((n) => attr(n, 'string')),
      attr('manager', 'complex', { subAttributes: [attr('value', 'string'), attr('$ref', 'reference')] }),
    ],
  },
  {
    id: TOMBSTONE_SCHEMA, name: 'Tombstone', description: 'A deleted User or Group, by its sync key; meta.lastModified is the time of the delete',
    attributes: [
      attr('externalId', 'string', { mutability: 'readOnly', caseExact: true }),
      attr('resourceType', 'string', { mutability: 'readOnly', canonicalValues: ['User', 'Group'] }),
    ],
  },
];

export function scimDiscoveryRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/ServiceProviderConfig', async (c) => {
    const s = await scimRequest(c, rt);
    return scimJson({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      documentationUri: 'https://zenokube.io/docs/scim',
      patch: { supported: true },
      bulk: { supported: true, ...BULK_LIMITS },
      filter: { supported: true, maxResults: MAX_COUNT },
      changePassword: { supported: true },
      sort: { supported: true },
      etag: { supported: true },
      authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'A SCIM token of the tenant, or an access token with scope scim.', primary: true }],
      meta: { resourceType: 'ServiceProviderConfig', location: `${s.base}/ServiceProviderConfig` },
    });
  });

  const resourceTypes = (base: string) => [
    { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'User', name: 'User', endpoint: '/Users', schema: USER_SCHEMA, schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }], meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` } },
    { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'Group', name: 'Group', endpoint: '/Groups', schema: GROUP_SCHEMA, meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` } },
    { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'Tombstone', name: 'Tombstone', endpoint: '/Tombstones', description: 'Deleted users and groups (read-only), for cross-site sync', schema: TOMBSTONE_SCHEMA, meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Tombstone` } },
  ];
  const schemas = (base: string) => SCHEMAS.map((x) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'], ...x, meta: { resourceType: 'Schema', location: `${base}/Schemas/${x.id}` } }));
  const listOf = (items: unknown[]) => ({ schemas: [LIST_SCHEMA], totalResults: items.length, startIndex: 1, itemsPerPage: items.length, Resources: items });

  app.get('/ResourceTypes', async (c) => scimJson(listOf(resourceTypes((await scimRequest(c, rt)).base))));
  app.get('/ResourceTypes/:id', async (c) => {
    const found = resourceTypes((await scimRequest(c, rt)).base).find((r) => r.id === c.req.param('id'));
    if (!found) throw scimNotFound();
    return scimJson(found);
  });
  app.get('/Schemas', async (c) => scimJson(listOf(schemas((await scimRequest(c, rt)).base))));
  app.get('/Schemas/:id', async (c) => {
    const found = schemas((await scimRequest(c, rt)).base).find((x) => x.id === c.req.param('id'));
    if (!found) throw scimNotFound();
    return scimJson(found);
  });
}
