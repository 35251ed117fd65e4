# syntax=docker/dockerfile:1

# Build a static binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sessionsvc .

# Run it as a non-root user in an image with nothing else in it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sessionsvc /usr/local/bin/sessionsvc
ENV HOST=0.0.0.0 \
    PORT=5000 \
    GIN_MODE=release \
    SESSION_TYPE=redis \
    SESSION_REDIS=redis://redis:6379/0
EXPOSE 5000
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["/usr/local/bin/sessionsvc", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/sessionsvc"]
