CREATE TABLE "vault"."token_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"allowed_policies" text[] NOT NULL,
	"disallowed_policies" text[] NOT NULL,
	"orphan" boolean NOT NULL,
	"renewable" boolean NOT NULL,
	"path_suffix" text NOT NULL,
	"token_period_seconds" integer NOT NULL,
	"token_explicit_max_ttl_seconds" integer NOT NULL,
	"token_no_default_policy" boolean NOT NULL,
	"token_num_uses" integer NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."wrapped_responses" (
	"accessor" text PRIMARY KEY NOT NULL,
	"context_id" text NOT NULL,
	"creation_path" text NOT NULL,
	"creation_time" timestamp (3) with time zone NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"wrapped_accessor" text DEFAULT '' NOT NULL,
	"ciphertext" "bytea" NOT NULL,
	"wrapped_dek" "bytea" NOT NULL,
	"mac" "bytea" NOT NULL,
	CONSTRAINT "wrapped_responses_contextId_unique" UNIQUE("context_id")
);
--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "period_seconds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "role" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "derived" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "min_encryption_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "mac" "bytea";--> statement-breakpoint
CREATE INDEX "wrapped_responses_expires_at_index" ON "vault"."wrapped_responses" USING btree ("expires_at");