CREATE SCHEMA "lms";
--> statement-breakpoint
CREATE TABLE "lms"."audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant" text NOT NULL,
	"action" text NOT NULL,
	"outcome" text NOT NULL,
	"actor" text,
	"target" text,
	"ip" text,
	"request_id" text,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "lms"."entitlements" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant" text NOT NULL,
	"code" text NOT NULL,
	"name" text,
	"limit" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lms"."inbox" (
	"source" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_source_id_pk" PRIMARY KEY("source","id")
);
--> statement-breakpoint
CREATE TABLE "lms"."licenses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant" text NOT NULL,
	"product_id" uuid NOT NULL,
	"policy_id" uuid NOT NULL,
	"key_hash" text NOT NULL,
	"owner" text,
	"entitlements" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text NOT NULL,
	"expires_at" timestamp with time zone,
	"last_check_in_at" timestamp with time zone,
	"check_in_missed_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "licenses_keyHash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "lms"."machines" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant" text NOT NULL,
	"license_id" uuid NOT NULL,
	"fingerprint" text NOT NULL,
	"name" text,
	"platform" text,
	"last_heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lms"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"subject" text,
	"data" jsonb NOT NULL,
	"time" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "lms"."policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant" text NOT NULL,
	"product_id" uuid NOT NULL,
	"name" text NOT NULL,
	"duration" text,
	"duration_seconds" integer,
	"max_machines" integer NOT NULL,
	"floating" boolean NOT NULL,
	"strict" boolean NOT NULL,
	"overage" integer DEFAULT 0 NOT NULL,
	"check_in_interval_seconds" integer,
	"grace_seconds" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lms"."products" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lms"."signing_keys" (
	"tenant" text NOT NULL,
	"product_id" uuid NOT NULL,
	"kid" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_jwk_sealed" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	CONSTRAINT "signing_keys_product_id_kid_pk" PRIMARY KEY("product_id","kid")
);
--> statement-breakpoint
ALTER TABLE "lms"."licenses" ADD CONSTRAINT "licenses_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "lms"."products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lms"."licenses" ADD CONSTRAINT "licenses_policy_id_policies_id_fk" FOREIGN KEY ("policy_id") REFERENCES "lms"."policies"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lms"."machines" ADD CONSTRAINT "machines_license_id_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "lms"."licenses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lms"."policies" ADD CONSTRAINT "policies_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "lms"."products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lms"."signing_keys" ADD CONSTRAINT "signing_keys_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "lms"."products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_tenant_at_index" ON "lms"."audit" USING btree ("tenant","at");--> statement-breakpoint
CREATE UNIQUE INDEX "entitlements_tenant_code_index" ON "lms"."entitlements" USING btree ("tenant","code");--> statement-breakpoint
CREATE INDEX "licenses_tenant_product_id_index" ON "lms"."licenses" USING btree ("tenant","product_id");--> statement-breakpoint
CREATE INDEX "licenses_status_expires_at_index" ON "lms"."licenses" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "machines_license_id_fingerprint_index" ON "lms"."machines" USING btree ("license_id","fingerprint");--> statement-breakpoint
CREATE INDEX "machines_tenant_license_id_index" ON "lms"."machines" USING btree ("tenant","license_id");--> statement-breakpoint
CREATE INDEX "outbox_next_attempt_at_index" ON "lms"."outbox" USING btree ("next_attempt_at");--> statement-breakpoint
CREATE UNIQUE INDEX "policies_tenant_product_id_name_index" ON "lms"."policies" USING btree ("tenant","product_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "products_tenant_name_index" ON "lms"."products" USING btree ("tenant","name");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active" ON "lms"."signing_keys" USING btree ("product_id") WHERE status = 'active';