CREATE TABLE "auth"."scim_push_links" (
	"target_id" uuid NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" uuid NOT NULL,
	"remote_id" text NOT NULL,
	CONSTRAINT "scim_push_links_target_id_resource_type_resource_id_pk" PRIMARY KEY("target_id","resource_type","resource_id")
);
--> statement-breakpoint
CREATE TABLE "auth"."scim_push_queue" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"target_id" uuid NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" uuid NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"dead_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth"."scim_targets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"token_sealed" text NOT NULL,
	"group_ids" uuid[],
	"flatten" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth"."scim_push_links" ADD CONSTRAINT "scim_push_links_target_id_scim_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "auth"."scim_targets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."scim_push_queue" ADD CONSTRAINT "scim_push_queue_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."scim_push_queue" ADD CONSTRAINT "scim_push_queue_target_id_scim_targets_id_fk" FOREIGN KEY ("target_id") REFERENCES "auth"."scim_targets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth"."scim_targets" ADD CONSTRAINT "scim_targets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "scim_push_queue_target_id_dead_at_next_attempt_at_index" ON "auth"."scim_push_queue" USING btree ("target_id","dead_at","next_attempt_at");--> statement-breakpoint
CREATE INDEX "scim_push_queue_target_id_resource_type_resource_id_index" ON "auth"."scim_push_queue" USING btree ("target_id","resource_type","resource_id");--> statement-breakpoint
CREATE UNIQUE INDEX "scim_targets_tenant_id_name_index" ON "auth"."scim_targets" USING btree ("tenant_id","name");