CREATE TABLE "auth"."saml_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"private_key_sealed" text NOT NULL,
	"certificate" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	"publish_until" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "auth"."saml_participants" (
	"session_id" uuid NOT NULL,
	"sp_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name_id" text NOT NULL,
	"name_id_format" text NOT NULL,
	"session_index" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "saml_participants_session_id_sp_id_pk" PRIMARY KEY("session_id","sp_id")
);
--> statement-breakpoint
CREATE TABLE "auth"."saml_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"sp_id" uuid NOT NULL,
	"request_id" text,
	"handle_hash" text NOT NULL,
	"csrf" text NOT NULL,
	"params" jsonb NOT NULL,
	"user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "saml_requests_handleHash_unique" UNIQUE("handle_hash")
);
--> statement-breakpoint
CREATE TABLE "auth"."saml_service_providers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"entity_id" text NOT NULL,
	"name" text,
	"acs" jsonb NOT NULL,
	"slo_url" text,
	"slo_binding" text,
	"certificates" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"name_id_format" text NOT NULL,
	"attribute_map" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"sign_response" boolean DEFAULT true NOT NULL,
	"sign_assertion" boolean DEFAULT true NOT NULL,
	"want_authn_requests_signed" boolean DEFAULT false NOT NULL,
	"allow_idp_initiated" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth"."saml_keys" ADD CONSTRAINT "saml_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_participants" ADD CONSTRAINT "saml_participants_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "auth"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_participants" ADD CONSTRAINT "saml_participants_sp_id_saml_service_providers_id_fk" FOREIGN KEY ("sp_id") REFERENCES "auth"."saml_service_providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_participants" ADD CONSTRAINT "saml_participants_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_requests" ADD CONSTRAINT "saml_requests_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_requests" ADD CONSTRAINT "saml_requests_sp_id_saml_service_providers_id_fk" FOREIGN KEY ("sp_id") REFERENCES "auth"."saml_service_providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_requests" ADD CONSTRAINT "saml_requests_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."saml_service_providers" ADD CONSTRAINT "saml_service_providers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "saml_keys_one_active" ON "auth"."saml_keys" USING btree ("tenant_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "saml_participants_tenant_id_session_index_index" ON "auth"."saml_participants" USING btree ("tenant_id","session_index");--> statement-breakpoint
CREATE UNIQUE INDEX "saml_requests_sp_id_request_id_index" ON "auth"."saml_requests" USING btree ("sp_id","request_id");--> statement-breakpoint
CREATE UNIQUE INDEX "saml_service_providers_tenant_id_entity_id_index" ON "auth"."saml_service_providers" USING btree ("tenant_id","entity_id");