CREATE TABLE "vault"."ceremonies" (
	"kind" text PRIMARY KEY NOT NULL,
	"nonce" text NOT NULL,
	"sealed" "bytea" NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "vault"."seal_config" ADD COLUMN "recovery_canary" "bytea";