CREATE TABLE "auth"."tenant_brandings" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"display_name" text,
	"logo_url" text,
	"primary_colour" text,
	"background_colour" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth"."tenant_brandings" ADD CONSTRAINT "tenant_brandings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;