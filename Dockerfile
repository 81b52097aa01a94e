# Build a static binary, then ship it alone on a minimal, non-root base.
#   docker build --build-arg VERSION=1.2.3 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t mailcluster_exporter .
# (`make docker` passes the same values as `make build`.)
FROM golang:1.26-bookworm AS build
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.Branch=${BRANCH}" -o /out/mailcluster_exporter .
# The state directory for the update windows (--windows.file default); the
# runtime image has no shell, so it is made here and copied with its owner.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mailcluster_exporter /bin/mailcluster_exporter
COPY --from=build --chown=65532:65532 /out/state /var/lib/mailcluster_exporter
COPY examples/quickstart.yml /etc/mailcluster_exporter/mailcluster.yml
USER 65532:65532
# Open update windows survive a container restart: keep this on a volume.
VOLUME ["/var/lib/mailcluster_exporter"]
EXPOSE 19025
ENTRYPOINT ["/bin/mailcluster_exporter"]
CMD ["--config.file=/etc/mailcluster_exporter/mailcluster.yml", "--windows.file=/var/lib/mailcluster_exporter/windows.json"]
