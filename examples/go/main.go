// Tally from Go with grpc-go: create a customer, record usage with a request
// id, retry it, see the refusals a caller must handle, and print the current
// bill.
//
//	go -C examples/go run . localhost:8080 example-go
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	billingv1 "example.com/tally/gen/go/billing/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// refusal names the status code, the reason (google.rpc.ErrorInfo) and the
// fields at fault (google.rpc.BadRequest) of a refused call.
func refusal(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	reason, fields := "", []string{}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.BadRequest:
			for _, violation := range d.GetFieldViolations() {
				fields = append(fields, violation.GetField())
			}
		}
	}
	return fmt.Sprintf("%s %s fields=%s", strings.ToUpper(toSnake(st.Code().String())), reason, strings.Join(fields, ","))
}

// toSnake turns grpc-go's "AlreadyExists" into "already_exists".
func toSnake(name string) string {
	var out strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			out.WriteByte('_')
		}
		out.WriteRune(r)
	}
	return strings.ToLower(out.String())
}

func main() {
	target, customerRef := "localhost:8080", "example-go"
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	if len(os.Args) > 2 {
		customerRef = os.Args[2]
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Every call but health needs an API key (TALLY_API_KEY), sent as metadata.
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+os.Getenv("TALLY_API_KEY"))
	catalog := billingv1.NewCatalogServiceClient(conn)
	customers := billingv1.NewCustomerServiceClient(conn)
	usage := billingv1.NewUsageServiceClient(conn)
	billing := billingv1.NewBillingServiceClient(conn)

	// The catalog: fixed request ids make these safe to run again.
	must(catalog.CreateMeter(ctx, &billingv1.CreateMeterRequest{RequestId: "example-meter", Meter: &billingv1.Meter{
		Key: "example-requests", DisplayName: "Example requests", Unit: "request",
		Aggregation: billingv1.Aggregation_AGGREGATION_SUM, WholeUnits: true,
	}}))
	must(catalog.CreatePrice(ctx, &billingv1.CreatePriceRequest{RequestId: "example-price", Price: &billingv1.Price{
		MeterKey: "example-requests", CurrencyCode: "USD", Tiers: []*billingv1.PriceTier{
			{UpTo: "1000", UnitAmount: "0.01"},
			{UnitAmount: "0.005"},
		},
	}}))
	must(customers.CreateCustomer(ctx, &billingv1.CreateCustomerRequest{
		RequestId: "example-customer-" + customerRef,
		Customer:  &billingv1.Customer{ExternalId: customerRef, DisplayName: "Example " + customerRef, CurrencyCode: "USD"},
	}))

	request := &billingv1.RecordUsageRequest{
		RequestId: "example-usage-" + customerRef, CustomerId: customerRef, MeterKey: "example-requests", Quantity: "1500",
	}
	first := must(usage.RecordUsage(ctx, request))
	fmt.Printf("recorded %s replayed=%v\n", first.GetRecord().GetId(), first.GetReplayed())
	retry := must(usage.RecordUsage(ctx, request))
	fmt.Printf("retried: replayed=%v same_record=%v\n", retry.GetReplayed(), retry.GetRecord().GetId() == first.GetRecord().GetId())

	changed := proto.Clone(request).(*billingv1.RecordUsageRequest)
	changed.Quantity = "1501"
	if _, err := usage.RecordUsage(ctx, changed); err != nil {
		fmt.Printf("changed retry refused: %s\n", refusal(err))
	}
	bad := &billingv1.RecordUsageRequest{
		RequestId: "example-bad-" + customerRef, CustomerId: customerRef, MeterKey: "example-requests", Quantity: "-5",
	}
	if _, err := usage.RecordUsage(ctx, bad); err != nil {
		fmt.Printf("bad input refused: %s\n", refusal(err))
	}

	bill := must(billing.GetCurrentBill(ctx, &billingv1.GetCurrentBillRequest{CustomerId: customerRef})).GetBill()
	fmt.Printf("bill %s %s total %s\n", bill.GetPeriod(), bill.GetCurrencyCode(), bill.GetTotal())
	for _, line := range bill.GetLines() {
		fmt.Printf("  %s %s %s\n", line.GetMeterKey(), line.GetQuantity(), line.GetAmount())
	}
}

// must ends the program on an unexpected error, naming it.
func must[T any](value T, err error) T {
	if err != nil {
		var st interface{ GRPCStatus() *status.Status }
		if errors.As(err, &st) {
			log.Fatalf("unexpected refusal: %s: %s", refusal(err), st.GRPCStatus().Message())
		}
		log.Fatal(err)
	}
	return value
}
