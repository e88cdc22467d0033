package qchk
import ("testing";"time";"k8s.io/apimachinery/pkg/api/resource")
func TestQ(t *testing.T){
 for _, s := range []string{"10E0000000090000000000", "1E2147483647", "1E2147483648", "1E99999999999"} {
  st := time.Now()
  q, err := resource.ParseQuantity(s); t.Logf("%q -> %v %v", s, err, time.Since(st)); _ = q
 }
}
