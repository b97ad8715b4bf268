ALTER TABLE "vault"."audit_log" ADD COLUMN "key_id" text;--> statement-breakpoint
ALTER TABLE "vault"."seal_config" ADD COLUMN "seal_epoch" integer DEFAULT 0 NOT NULL;