ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "encryption_certificates" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "encrypt_assertion" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "metadata_url" text;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "metadata_refreshed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "metadata_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD COLUMN "metadata_error" text;