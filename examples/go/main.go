// Tally from Go with grpc-go: create a customer, record usage with a request
// id, retry it, see the refusals a caller must handle, and print the current
// bill; then price a meter per region, with a region's price and one
// customer's own price, and print that customer's bill line by line.
//
//	go -C examples/go run . localhost:8080 example-go
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
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

	// A meter billed per region: the catalog's price, a price for region "eu" (the most specific
	// dimension_values a line holds wins) and one customer's own price (it wins over the catalog's).
	must(catalog.CreateMeter(ctx, &billingv1.CreateMeterRequest{RequestId: "example-vm-meter", Meter: &billingv1.Meter{
		Key: "example-vm-hours", DisplayName: "Example VM hours", Unit: "hour",
		Aggregation: billingv1.Aggregation_AGGREGATION_SUM, Precision: 3, Dimensions: []string{"region"},
	}}))
	must(catalog.CreatePrice(ctx, &billingv1.CreatePriceRequest{RequestId: "example-vm-price", Price: &billingv1.Price{
		MeterKey: "example-vm-hours", CurrencyCode: "USD", Tiers: []*billingv1.PriceTier{{UnitAmount: "0.10"}},
	}}))
	must(catalog.CreatePrice(ctx, &billingv1.CreatePriceRequest{RequestId: "example-vm-price-eu", Price: &billingv1.Price{
		MeterKey: "example-vm-hours", CurrencyCode: "USD", DimensionValues: map[string]string{"region": "eu"},
		Model: billingv1.PricingModel_PRICING_MODEL_VOLUME, Tiers: []*billingv1.PriceTier{
			{UpTo: "100", UnitAmount: "0.12"},
			{UnitAmount: "0.09", FlatAmount: "10"},
		},
	}}))
	regional := customerRef + "-regions"
	must(customers.CreateCustomer(ctx, &billingv1.CreateCustomerRequest{
		RequestId: "example-customer-" + regional,
		Customer:  &billingv1.Customer{ExternalId: regional, DisplayName: "Example " + regional, CurrencyCode: "USD"},
	}))
	must(catalog.CreatePrice(ctx, &billingv1.CreatePriceRequest{RequestId: "example-vm-price-" + regional, Price: &billingv1.Price{
		MeterKey: "example-vm-hours", CurrencyCode: "USD", CustomerId: regional, Tiers: []*billingv1.PriceTier{{UnitAmount: "0.07"}},
	}}))
	// eu: 150 x 0.09 + 10 = 23.50 (the eu price); us: 100 x 0.07 = 7.00 (the customer's own)
	for _, regionUsage := range [][2]string{{"eu", "150"}, {"us", "100"}} {
		must(usage.RecordUsage(ctx, &billingv1.RecordUsageRequest{
			RequestId: "example-vm-" + regional + "-" + regionUsage[0], CustomerId: regional, MeterKey: "example-vm-hours",
			Quantity: regionUsage[1], Attributes: map[string]string{"region": regionUsage[0]},
		}))
	}
	if _, err := usage.RecordUsage(ctx, &billingv1.RecordUsageRequest{
		RequestId: "example-vm-" + regional + "-none", CustomerId: regional, MeterKey: "example-vm-hours", Quantity: "1",
	}); err != nil {
		fmt.Printf("missing dimension refused: %s\n", refusal(err))
	}
	regionalBill := must(billing.GetCurrentBill(ctx, &billingv1.GetCurrentBillRequest{CustomerId: regional})).GetBill()
	fmt.Printf("regional bill total %s\n", regionalBill.GetTotal())
	for _, line := range regionalBill.GetLines() {
		keys := make([]string, 0, len(line.GetDimensions()))
		for key := range line.GetDimensions() {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		dimensions := make([]string, len(keys))
		for index, key := range keys {
			dimensions[index] = key + "=" + line.GetDimensions()[key]
		}
		fmt.Printf("  %s %s %s %s price v%d\n", line.GetMeterKey(), strings.Join(dimensions, ","), line.GetQuantity(), line.GetAmount(), line.GetPriceVersion())
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
