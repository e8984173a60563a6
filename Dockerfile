# Build the manager binary
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev

WORKDIR /workspace
# Copy the Go module manifests and cache the dependencies before copying the sources.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

# Copy every source folder the manager imports (main_test.go checks this list).
COPY main.go main.go
COPY api/ api/
COPY bunq/ bunq/
COPY controllers/ controllers/

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -a -ldflags "-X main.version=${VERSION}" -o manager main.go

# Use distroless as minimal base image to package the manager binary
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
