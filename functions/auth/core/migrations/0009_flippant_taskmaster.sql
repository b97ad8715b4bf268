CREATE TABLE "auth"."device_codes" (
	"device_code_hash" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"client_id" uuid NOT NULL,
	"user_code_hash" text NOT NULL,
	"scope" text NOT NULL,
	"resource" text[] DEFAULT '{}' NOT NULL,
	"authorization_details" jsonb,
	"status" text DEFAULT 'pending' NOT NULL,
	"user_id" uuid,
	"session_id" uuid,
	"auth_time" timestamp with time zone,
	"acr" text,
	"amr" text[],
	"interval_seconds" integer DEFAULT 5 NOT NULL,
	"last_polled_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."dpop_proof_jtis" (
	"tenant_id" uuid NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "dpop_proof_jtis_tenant_id_jti_pk" PRIMARY KEY("tenant_id","jti")
);
--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "dpop_bound_access_tokens" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "dpop_nonce_required" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "token_exchange_audiences" text[] DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."clients" ADD COLUMN "token_exchange_impersonation" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "auth"."token_families" ADD COLUMN "dpop_jkt" text;--> statement-breakpoint
ALTER TABLE "auth"."device_codes" ADD CONSTRAINT "device_codes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."device_codes" ADD CONSTRAINT "device_codes_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "auth"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."device_codes" ADD CONSTRAINT "device_codes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "device_codes_tenant_id_user_code_hash_index" ON "auth"."device_codes" USING btree ("tenant_id","user_code_hash");