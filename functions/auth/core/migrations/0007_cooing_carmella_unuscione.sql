CREATE TABLE "auth"."dpop_proof_jtis" (
	"tenant_id" uuid NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "dpop_proof_jtis_tenant_id_jti_pk" PRIMARY KEY("tenant_id","jti")
);
--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "dpop_bound_access_tokens" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "dpop_nonce_required" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."token_families" ADD COLUMN "dpop_jkt" text;