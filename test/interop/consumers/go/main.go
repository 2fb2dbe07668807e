// A Go program outside the repository that requires the module
// example.com/tally/gen/go (with a replace to the repository's gen/go) and
// calls Tally with grpc-go and the shipped service config: it records usage
// through a connection the test cuts once (gRPC's retry policy sends the same
// message again and the server replays) and reads the bill.
//
//	go run . <host:port> <customer id> <service-config.json>      (TALLY_API_KEY set)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	billingv1 "example.com/tally/gen/go/billing/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

func main() {
	target, customerID, configPath := os.Args[1], os.Args[2], os.Args[3]
	serviceConfig, err := os.ReadFile(configPath)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(string(serviceConfig)))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+os.Getenv("TALLY_API_KEY"))

	recorded, err := billingv1.NewUsageServiceClient(conn).RecordUsage(ctx, &billingv1.RecordUsageRequest{
		RequestId: "go-consumer-1", CustomerId: customerID, MeterKey: "calls", Quantity: "2",
	})
	if err != nil {
		log.Fatal(err)
	}
	current, err := billingv1.NewBillingServiceClient(conn).GetCurrentBill(ctx, &billingv1.GetCurrentBillRequest{CustomerId: customerID})
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"requestId": recorded.GetRecord().GetRequestId(),
		"replayed":  recorded.GetReplayed(),
		"quantity":  current.GetBill().GetLines()[0].GetQuantity(),
		"total":     current.GetBill().GetTotal(),
	})
	fmt.Println(string(out))
}
