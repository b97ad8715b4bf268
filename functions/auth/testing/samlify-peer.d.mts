// The part of samlify's API the SAML tests use (see samlify-peer.mjs).
export interface Extract {
  nameID: string;
  issuer: string;
  audience: string;
  sessionIndex: { sessionIndex: string };
  attributes: Record<string, unknown>;
  response: { inResponseTo: string };
}
interface FlowResult {
  extract: Extract;
}
interface HttpRequest {
  body?: Record<string, string | undefined>;
  query?: Record<string, string>;
  octetString?: string;
}
export interface IdentityProviderEntity {
  readonly kind: 'idp';
}
export interface ServiceProviderEntity {
  getMetadata(): string;
  createLoginRequest(idp: IdentityProviderEntity, binding: 'redirect' | 'post'): { id: string; context: string };
  parseLoginResponse(idp: IdentityProviderEntity, binding: 'post', request: HttpRequest): Promise<FlowResult>;
  createLogoutRequest(idp: IdentityProviderEntity, binding: 'redirect', user: { logoutNameID: string; sessionIndex: string }): { id: string; context: string };
  parseLogoutResponse(idp: IdentityProviderEntity, binding: 'redirect', request: HttpRequest): Promise<FlowResult>;
}
export declare function ServiceProvider(settings: Record<string, unknown>): ServiceProviderEntity;
export declare function IdentityProvider(settings: Record<string, unknown>): IdentityProviderEntity;
