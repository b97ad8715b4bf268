# One image for every function: `docker run IMAGE fn <name>` or ZENO_FUNCTION=<name> runs that
# function's esbuild bundle (dist/fn/<name>.mjs, see scripts/bundle.ts); every other command
# (`migrate`, which the generated Job runs, `vault`, `auth`, …) runs the CLI from dist/cli.
# Built from a clean checkout, tagged as the generated manifests expect (`zenokube manifests --image`
# for any other reference; docs/deploying.md):
#   docker build -t zenokube:$(node -p "require('./package.json').version") .
#
# The runtime stage holds dist/, the production dependencies, the migration SQL and package.json,
# and nothing else; it writes nothing at run time (a read-only root filesystem works). The build
# context is what .dockerignore lets through; tests/image/ rebuilds this file's steps without a
# container runtime and serves a function from the result.

# Node 24: the current LTS line (maintained to April 2028); the code's floor is Node 22 (engines).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared shared
COPY functions functions
COPY eventing eventing
COPY manifests manifests
COPY local-cluster local-cluster
COPY cli cli
COPY scripts/bundle.ts scripts/bundle.ts
# tsc → dist/, esbuild → dist/fn/ (one bundle per function). Then only production dependencies
# stay: --omit=optional drops PGlite, the embedded database of `npm start`, which the image never
# loads (DATABASE_URL is required there). The migration SQL, read at run time from
# functions/<product>/core/migrations and eventing/migrations beside package.json, is staged in
# runtime/ for the copy below.
RUN npm run build \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && mkdir runtime \
 && find functions eventing -type d -name migrations -prune -exec cp -r --parents {} runtime/ \;

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/runtime/ ./
# Numeric user (the base image's `node`), so that Kubernetes can verify runAsNonRoot. The files
# stay root's: the process cannot change its own code.
USER 1000:1000
EXPOSE 8080
# No HEALTHCHECK: Kubernetes ignores it and probes /readyz and /healthz itself (the generated
# manifests); under plain Docker see docs/deploying.md.
ENTRYPOINT ["node", "dist/fn/zenokube.mjs"]
CMD ["fn"]
