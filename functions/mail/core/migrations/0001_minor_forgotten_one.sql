CREATE TABLE "mail"."dkim_keys" (
	"tenant" text NOT NULL,
	"domain" text NOT NULL,
	"selector" text NOT NULL,
	"private_key" text NOT NULL,
	"public_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dkim_keys_tenant_domain_pk" PRIMARY KEY("tenant","domain")
);
--> statement-breakpoint
CREATE TABLE "mail"."transports" (
	"tenant" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"settings" jsonb NOT NULL,
	"secret" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
