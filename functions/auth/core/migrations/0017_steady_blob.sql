ALTER TABLE "auth"."scim_targets" ADD COLUMN "reconcile_lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "auth"."scim_targets" ADD COLUMN "last_reconcile_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "auth"."scim_targets" ADD COLUMN "last_reconcile" jsonb;