CREATE TABLE "vault"."approle_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"role_id" text NOT NULL,
	"settings" jsonb NOT NULL,
	"mac" "bytea" NOT NULL,
	CONSTRAINT "approle_roles_roleId_unique" UNIQUE("role_id")
);
--> statement-breakpoint
CREATE TABLE "vault"."approle_secret_ids" (
	"hash" "bytea" PRIMARY KEY NOT NULL,
	"role_name" text NOT NULL,
	"accessor" text NOT NULL,
	"metadata" jsonb NOT NULL,
	"cidr_list" text[] NOT NULL,
	"token_bound_cidrs" text[] NOT NULL,
	"num_uses" integer NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"mac" "bytea" NOT NULL,
	CONSTRAINT "approle_secret_ids_accessor_unique" UNIQUE("accessor")
);
--> statement-breakpoint
CREATE TABLE "vault"."ceremonies" (
	"kind" text PRIMARY KEY NOT NULL,
	"nonce" text NOT NULL,
	"sealed" "bytea" NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."database_configs" (
	"name" text PRIMARY KEY NOT NULL,
	"plugin_name" text NOT NULL,
	"connection_url" text NOT NULL,
	"username" text NOT NULL,
	"allowed_roles" text[] NOT NULL,
	"verify_connection" boolean NOT NULL,
	"root_rotation_statements" text[] NOT NULL,
	"password_ciphertext" "bytea",
	"password_wrapped_dek" "bytea",
	"pending_ciphertext" "bytea",
	"pending_wrapped_dek" "bytea",
	"updated_at" timestamp with time zone NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."database_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"db_name" text NOT NULL,
	"creation_statements" text[] NOT NULL,
	"revocation_statements" text[] NOT NULL,
	"rollback_statements" text[] NOT NULL,
	"renew_statements" text[] NOT NULL,
	"default_ttl_seconds" integer NOT NULL,
	"max_ttl_seconds" integer NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."database_static_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"db_name" text NOT NULL,
	"username" text NOT NULL,
	"rotation_period_seconds" integer NOT NULL,
	"rotation_statements" text[] NOT NULL,
	"password_ciphertext" "bytea",
	"password_wrapped_dek" "bytea",
	"pending_ciphertext" "bytea",
	"pending_wrapped_dek" "bytea",
	"last_rotation" timestamp with time zone,
	"next_attempt_at" timestamp with time zone,
	"last_error" text,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."inbox" (
	"source" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_source_id_pk" PRIMARY KEY("source","id")
);
--> statement-breakpoint
CREATE TABLE "vault"."integrity_state" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"epoch" integer NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."jwt_config" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"settings" jsonb NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."jwt_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"settings" jsonb NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."leases" (
	"lease_id" text PRIMARY KEY NOT NULL,
	"engine" text NOT NULL,
	"mount" text NOT NULL,
	"role" text NOT NULL,
	"issue_time" timestamp with time zone NOT NULL,
	"expire_time" timestamp with time zone NOT NULL,
	"last_renewal" timestamp with time zone,
	"ttl_seconds" integer NOT NULL,
	"max_ttl_seconds" integer NOT NULL,
	"renewable" boolean NOT NULL,
	"revocation" jsonb NOT NULL,
	"revoke_attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"last_error" text,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
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
CREATE TABLE "vault"."userpass_failures" (
	"username" text NOT NULL,
	"client" text NOT NULL,
	"failures" integer NOT NULL,
	"locked_until" timestamp with time zone NOT NULL,
	CONSTRAINT "userpass_failures_username_client_pk" PRIMARY KEY("username","client")
);
--> statement-breakpoint
CREATE TABLE "vault"."userpass_users" (
	"username" text PRIMARY KEY NOT NULL,
	"password_hash" text NOT NULL,
	"settings" jsonb NOT NULL,
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
ALTER TABLE "vault"."audit_log" ADD COLUMN "key_id" text;--> statement-breakpoint
ALTER TABLE "vault"."kubernetes_config" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."kubernetes_roles" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "deleted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."kv_versions" ADD COLUMN "seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_versions" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."mounts" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."policies" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."seal_config" ADD COLUMN "recovery_canary" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."seal_config" ADD COLUMN "seal_epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "period_seconds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "role" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "bound_cidrs" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "derived" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "min_encryption_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."transit_keys" ADD COLUMN "mac" "bytea";--> statement-breakpoint
CREATE INDEX "approle_secret_ids_role_name_index" ON "vault"."approle_secret_ids" USING btree ("role_name");--> statement-breakpoint
CREATE INDEX "leases_expire_idx" ON "vault"."leases" USING btree ("expire_time");--> statement-breakpoint
CREATE INDEX "leases_prefix_idx" ON "vault"."leases" USING btree ("lease_id" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "wrapped_responses_expires_at_index" ON "vault"."wrapped_responses" USING btree ("expires_at");