# One image for every function: `docker run IMAGE fn <name>` or ZENO_FUNCTION=<name> runs that
# function's esbuild bundle (dist/fn/<name>.mjs, see scripts/bundle.ts); every other command
# (`migrate`, which the generated Job runs, `vault`, `auth`, …) runs the CLI from dist/cli. Built from a clean checkout:
#   docker build -t ghcr.io/zenokube/zenokube:$(node -p "require('./package.json').version") .

# Node 24: an LTS line (maintained to April 2028) and the newest one `npm test` runs the code on
# (scripts/run-tests.mjs); the code's floor is Node 22 (package.json engines).
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
COPY scripts scripts
COPY tests/fixtures tests/fixtures
# tsc → dist/, esbuild → dist/fn/ (one bundle per function); then keep only production
# dependencies (the CLI, PGlite and prom-client load from node_modules). The migration SQL is read at run time
# from functions/<product>/core/migrations and eventing/migrations beside package.json.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p /stage \
 && find functions eventing -type d -name migrations -prune -exec cp -r --parents {} /stage/ \;

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /stage/ ./
# Numeric user (the image's `node`), so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "dist/fn/zenokube.mjs"]
CMD ["fn"]
