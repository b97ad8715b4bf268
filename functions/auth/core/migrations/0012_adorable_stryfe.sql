ALTER TABLE "auth"."clients" ADD COLUMN "backchannel_logout_uri" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "backchannel_logout_session_required" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "frontchannel_logout_uri" text;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "frontchannel_logout_session_required" boolean DEFAULT false NOT NULL;