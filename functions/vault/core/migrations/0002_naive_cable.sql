ALTER TABLE "vault"."transit_keys" ADD COLUMN "derived" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "min_encryption_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "mac" "bytea";