CREATE TABLE "vault"."integrity_state" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"epoch" integer NOT NULL,
	"mac" "bytea" NOT NULL
);
--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "deleted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_metadata" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."kv_versions" ADD COLUMN "seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vault"."kv_versions" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."mounts" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."policies" ADD COLUMN "mac" "bytea";--> statement-breakpoint
ALTER TABLE "vault"."tokens" ADD COLUMN "mac" "bytea";