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
ALTER TABLE "vault"."kubernetes_config" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."kubernetes_roles" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "bound_cidrs" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
CREATE INDEX "approle_secret_ids_role_name_index" ON "vault"."approle_secret_ids" USING btree ("role_name");