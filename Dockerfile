# Build a static binary, then ship it alone on a minimal, non-root base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/mailcluster_exporter .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mailcluster_exporter /bin/mailcluster_exporter
COPY examples/quickstart.yml /etc/mailcluster_exporter/mailcluster.yml
USER 65532:65532
EXPOSE 19025
ENTRYPOINT ["/bin/mailcluster_exporter"]
CMD ["--config.file=/etc/mailcluster_exporter/mailcluster.yml", "--windows.file=/tmp/windows.json"]
