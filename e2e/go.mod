module github.com/ccserver/ccserver/e2e

go 1.26.0

require github.com/ccserver/ccserver v0.0.0

require (
	github.com/hyperledger/fabric-chaincode-go/v2 v2.3.0 // indirect
	github.com/hyperledger/fabric-gateway v1.8.0 // indirect
	github.com/hyperledger/fabric-protos-go-apiv2 v0.3.7 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/ccserver/ccserver => ../
