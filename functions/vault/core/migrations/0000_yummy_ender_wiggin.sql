CREATE SCHEMA "vault";
--> statement-breakpoint
CREATE TABLE "vault"."audit_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"time" timestamp with time zone DEFAULT now() NOT NULL,
	"type" text NOT NULL,
	"request_id" text NOT NULL,
	"operation" text NOT NULL,
	"path" text NOT NULL,
	"remote_address" text,
	"accessor" text,
	"policies" text[],
	"decision" text NOT NULL,
	"status" integer,
	"error" text,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "vault"."kubernetes_config" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"settings" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."kubernetes_roles" (
	"name" text PRIMARY KEY NOT NULL,
	"settings" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."kv_metadata" (
	"mount" text NOT NULL,
	"path" text NOT NULL,
	"max_versions" integer DEFAULT 0 NOT NULL,
	"cas_required" boolean DEFAULT false NOT NULL,
	"delete_version_after_seconds" integer DEFAULT 0 NOT NULL,
	"custom_metadata" jsonb,
	"current_version" integer DEFAULT 0 NOT NULL,
	"oldest_version" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kv_metadata_mount_path_pk" PRIMARY KEY("mount","path")
);
--> statement-breakpoint
CREATE TABLE "vault"."kv_versions" (
	"mount" text NOT NULL,
	"path" text NOT NULL,
	"version" integer NOT NULL,
	"ciphertext" "bytea",
	"wrapped_dek" "bytea",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"destroyed" boolean DEFAULT false NOT NULL,
	CONSTRAINT "kv_versions_mount_path_version_pk" PRIMARY KEY("mount","path","version")
);
--> statement-breakpoint
CREATE TABLE "vault"."mounts" (
	"path" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"wrapped_kek" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."policies" (
	"name" text PRIMARY KEY NOT NULL,
	"text" text NOT NULL,
	"rules" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."seal_config" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"type" text NOT NULL,
	"secret_shares" integer NOT NULL,
	"secret_threshold" integer NOT NULL,
	"canary" "bytea" NOT NULL,
	"seal_wrapped_root_key" text,
	"seal_settings" jsonb,
	"initialized_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vault"."tokens" (
	"hash" "bytea" PRIMARY KEY NOT NULL,
	"accessor" text NOT NULL,
	"parent_accessor" text,
	"policies" text[] NOT NULL,
	"display_name" text NOT NULL,
	"meta" jsonb,
	"orphan" boolean DEFAULT false NOT NULL,
	"renewable" boolean DEFAULT true NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"explicit_max_ttl_seconds" integer DEFAULT 0 NOT NULL,
	"num_uses" integer DEFAULT 0 NOT NULL,
	"path" text NOT NULL,
	"entity_id" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	CONSTRAINT "tokens_accessor_unique" UNIQUE("accessor")
);
--> statement-breakpoint
CREATE TABLE "vault"."transit_keys" (
	"name" text PRIMARY KEY NOT NULL,
	"type" text DEFAULT 'aes256-gcm96' NOT NULL,
	"latest_version" integer DEFAULT 1 NOT NULL,
	"min_decryption_version" integer DEFAULT 1 NOT NULL,
	"deletion_allowed" boolean DEFAULT false NOT NULL,
	"versions" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_log_request_id_index" ON "vault"."audit_log" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "kv_metadata_prefix_idx" ON "vault"."kv_metadata" USING btree ("mount","path" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "tokens_parent_accessor_index" ON "vault"."tokens" USING btree ("parent_accessor");