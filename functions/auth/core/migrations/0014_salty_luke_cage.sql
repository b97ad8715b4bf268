ALTER TABLE "auth"."clients" ADD COLUMN "require_signed_request_object" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "authorization_signed_response_alg" text DEFAULT 'RS256' NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "security_profile" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_auth_subject_dn" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_auth_san_dns" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_auth_san_uri" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_auth_san_ip" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_auth_san_email" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "tls_client_certificate_bound_access_tokens" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."token_families" ADD COLUMN "cert_thumbprint" text;