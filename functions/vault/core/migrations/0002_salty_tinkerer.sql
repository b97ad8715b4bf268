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
CREATE INDEX "leases_expire_idx" ON "vault"."leases" USING btree ("expire_time");--> statement-breakpoint
CREATE INDEX "leases_prefix_idx" ON "vault"."leases" USING btree ("lease_id" text_pattern_ops);